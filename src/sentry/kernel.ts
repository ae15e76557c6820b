// One sandbox: the Sentry's kernel object.
//
// It starts the Gofer and the launcher, builds the mount table, then reacts
// to two event sources on the Node event loop:
//   * seccomp notifications (one synchronous handler call each, see
//     syscalls/dispatch.ts), and
//   * ptrace stops collected by the native waiter thread: forks, execs, exits,
//     signal deliveries and the trace stops of execve and credential changes.
import fs from 'node:fs';
import { type LogFn, type Logger, rateLimited } from '../log.js';
import {
  CLONE_FILES,
  CLONE_FS,
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  CLONE_NEWUTS,
  CLONE_PARENT,
  CLONE_THREAD,
  CLONE_UNTRACED,
  PTRACE_EVENT_CLONE,
  PTRACE_EVENT_EXEC,
  PTRACE_EVENT_EXIT,
  PTRACE_EVENT_FORK,
  PTRACE_EVENT_SECCOMP,
  PTRACE_EVENT_STOP,
  PTRACE_EVENT_VFORK,
  PTRACE_O_EXITKILL,
  PTRACE_O_TRACECLONE,
  PTRACE_O_TRACEEXEC,
  PTRACE_O_TRACEEXIT,
  PTRACE_O_TRACEFORK,
  PTRACE_O_TRACESECCOMP,
  PTRACE_O_TRACESYSGOOD,
  PTRACE_O_TRACEVFORK,
  PTRACE_SYSCALL_INFO_EXIT,
  PR_SET_DUMPABLE,
  REG,
  SYSCALL_STOP_SIG,
  USER_REGS_WORDS,
  SIGSTOP,
  SIGTSTP,
  SIGTTIN,
  SIGTTOU,
  SOCK_SEQPACKET,
} from '../abi/linux.js';
import { TRACE_DATA, encode, guestFilter } from '../bpf/filter.js';
import { type GoferClient, type WaitInterrupt, spawnGofer } from '../gofer/client.js';
import { native } from '../platform/native.js';
import { LAUNCHER_PATH } from '../paths.js';
import { NotifyChannel } from '../platform/notif.js';
import { NUMBERS, SYSCALLS, byNumber } from '../syscalls/table.js';
import { ERRNO, errnoName } from '../abi/errno.js';
import { type Creds, type DumpCreds, ROOT_CREDS, dropsDumpable, dumpCreds, readCreds, suidDumpable, useCallerIds, useGuestIds } from './creds.js';
import { changesToOtherId, isRootless, mapCaller } from './rootless.js';
import { SandboxError, StartAborted, SysErr, signalName, sysErr } from './errors.js';
import { LauncherLink } from './launcher.js';
import { type Rlimit, guestRlimits, setUpBounds } from './bounds.js';
import { FileTable } from './files.js';
import { Strace, parseSyscallFilter } from './strace.js';
import { AccessLog } from './access.js';
import { Inotify } from './inotify/watches.js';
import { Dispatcher } from './syscalls/dispatch.js';
import { closeStale, dropPendingExec, fixStartBlock, leaveStale, onExecExitStop, onExecTraceStop, ranInstalled, requestCleaner } from './syscalls/exec.js';
import { SETID_STORE_SIZE, SetidStore } from './setid.js';
import { deferSignal, onInjectionStop, startInjection } from './inject.js';
import { onReturnStop } from './ctty.js';
import { memoryGone } from './vfs/procfs.js';
import { clearSighandCalls, restoreArgs, rewriteClone3 } from './clone3.js';
import { readBytes } from './memory.js';
import { FdTable, FsContext, type PendingExec, Process, Task, hostArgv, hostComm, hostTgid, notePeakRss, sandboxPid } from './task.js';
import { CommandNotFound, checkCommand } from './lookpath.js';
import { IdMap, type IdMaps, guestIdMaps, mapLines } from './idmap.js';
import { type Location, Mount } from './vfs/node.js';
import { type MountTable, buildMounts } from './vfs/mounts.js';
import { resolve } from './vfs/resolve.js';
import { type Capabilities, type ExecSpec, type Exit, type SandboxSpec, type SeccompProfile, describeExit, goferDevices, goferExports, sameNamespace } from './spec.js';
import { TestChannel, drainFirst } from './testchannel.js';

export type { ExecSpec, Exit, MountSpec, SandboxSpec } from './spec.js';
export { SandboxError, StartAborted } from './errors.js';

const PTRACE_OPTIONS =
  PTRACE_O_EXITKILL |
  PTRACE_O_TRACESYSGOOD |
  PTRACE_O_TRACESECCOMP |
  PTRACE_O_TRACEFORK |
  PTRACE_O_TRACEVFORK |
  PTRACE_O_TRACECLONE |
  PTRACE_O_TRACEEXEC;

const STOP_SIGNALS = new Set([SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU]);
/** SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV, SIGSYS */
const FAULT_SIGNALS = new Set([4, 5, 7, 8, 11, 31]);
/** Signals whose default action ends the process (all but the ignored and the stopping ones). */
const DEFAULT_TERMINATES = new Set([1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 24, 25, 26, 27, 29, 30, 31]);
/** A terminating signal repeated by its sender within this is the same request (see catchTerminatingSignals). */
const SAME_REQUEST_MS = 1000;

const NR_CLONE = NUMBERS['clone']!;
const NR_CLONE3 = NUMBERS['clone3']!;
const NR_PRCTL = NUMBERS['prctl']!;
/** How long the Sentry waits for the kernel to report the sandbox's tasks dead once init is. */
const FINISH_BOUND_MS = 2000;

/** A task's caught, ignored and blocked signal sets, from /proc/<tid>/status. */
function signalMasks(tid: number): { caught: bigint; ignored: bigint; blocked: bigint } | null {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${tid}/status`, 'latin1');
  } catch {
    return null;
  }
  const mask = (key: string) => BigInt(`0x${new RegExp(`\\n${key}:\\s*([0-9a-f]+)`).exec(status)?.[1] ?? '0'}`);
  return { caught: mask('SigCgt'), ignored: mask('SigIgn'), blocked: mask('SigBlk') };
}


/** The zombie table is swept once it holds this many (then whenever it doubles). */
const ZOMBIE_SWEEP_MIN = 64;

export class Kernel {
  readonly tasks = new Map<number, Task>();
  /** by host tgid */
  readonly procs = new Map<number, Process>();
  /** exited processes whose parent has not reaped them yet (by host tgid); swept as they are reaped */
  private readonly zombies = new Map<number, Process>();
  private zombieSweepAt = ZOMBIE_SWEEP_MIN;
  /** the most zombies (each with a pidfd) the table keeps (setUpBounds: a share of the Sentry's fds) */
  zombieBudget = 4096;
  readonly files = new FileTable(() => this.hostPids());
  readonly inotify = new Inotify(
    () => this.hostPids(),
    () => this.files.entries(),
    (node) => this.files.openHeldFor(node),
    () => this.gofer.ping(),
  );
  readonly startTime = Date.now();
  /** unique among the host's sandboxes, and revealing nothing of the host: names the sandbox's private abstract sockets */
  readonly sandboxId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
  hostname: string;
  domainname: string;
  gofer!: GoferClient;
  goferPid = -1;
  mounts!: MountTable;
  channel!: NotifyChannel;
  initPid = -1;
  readonly strace: Strace | null;
  /** what the guest touches, for spec.access (tsvisor test); null without an observer */
  readonly access: AccessLog | null;
  private dispatcher!: Dispatcher;
  /** tids whose initial ptrace stop arrived before their parent's fork event */
  private readonly earlyStops = new Set<number>();
  /** tids created by a fork event whose initial stop has not arrived yet */
  private readonly unstarted = new Set<number>();
  private exit: Exit | undefined;
  private resolveDone!: (e: Exit) => void;
  readonly done: Promise<Exit>;
  /** the task whose notification is being handled */
  current: Task | undefined;
  /** net.ipv4.ip_unprivileged_port_start of the sandbox's network: binding a lower port needs CAP_NET_BIND_SERVICE */
  readonly unprivilegedPortStart: number;
  /** the guest runs in the host's network namespace (--network host, or a spec naming the host's) */
  readonly sharesHostNetwork: boolean;
  /** file owners between the sandbox and the host (src/sentry/idmap.ts) */
  readonly fileIds: IdMap;
  /** the guest's user namespace: its uid_map and gid_map (idmap.ts guestIdMaps) */
  readonly guestIds: IdMaps;
  /** the per-test marker channel (spec.testChannel), from launch to shutdown */
  testChannel: TestChannel | null = null;
  /** where set-id files are exec'd from (setid.ts); none rootless */
  setidStore: SetidStore | null = null;
  /**
   * A trapped call is being handled, from the channel drain at its start to
   * its access event (syscalls/dispatch.ts): events then take no markers, for
   * a call answered early (ADDFD) lets its caller run on and write markers of
   * what it does next, which must not come before this call's event.
   */
  inTrappedCall = false;
  /** ptrace options of every guest task: with an access observer, exit stops too (peak memory, the command's end) */
  private readonly ptraceOptions: number;
  /** the access observer was told the command ended (onCommandExit) */
  private commandExitTold = false;
  /** an exec that ran another file than the one checked: the guest can cause one per exec */
  private readonly warnExecKilled: LogFn;

  constructor(
    readonly spec: SandboxSpec,
    readonly log: Logger,
  ) {
    this.ptraceOptions = spec.access ? PTRACE_OPTIONS | PTRACE_O_TRACEEXIT : PTRACE_OPTIONS;
    this.warnExecKilled = rateLimited((f, m) => log.warn(f, m));
    // With a test channel, the access observer drains it before each event
    // (testchannel.ts drainFirst) but those of a trapped call, drained at its
    // start: whoever reads spec.access from now on gets markers first, and
    // the event points need not know of the channel.
    if (spec.access && spec.testChannel !== undefined) {
      spec.access = drainFirst(spec.access, () => {
        if (!this.inTrappedCall) this.testChannel?.drain();
      });
    }
    this.hostname = spec.hostname;
    this.domainname = spec.domainname ?? '(none)';
    this.unprivilegedPortStart = unprivilegedPortStart(spec);
    this.fileIds = new IdMap(spec.idMappings ?? null);
    const own = { uids: [process.getuid!(), process.geteuid!()], gids: [process.getgid!(), process.getegid!(), ...process.getgroups!()] };
    const guest = guestIdMaps(spec.idMappings, own);
    if (guest.refused) log.warn(`the guest runs in tsvisor's own user namespace (host ids 1000000000+), not the spec's: ${guest.refused}`);
    this.guestIds = guest.maps;
    useGuestIds(guest.maps, this.fileIds);
    this.sharesHostNetwork = spec.netnsPath ? sameNamespace(spec.netnsPath, '/proc/self/ns/net') : spec.network === 'host';
    this.access = spec.access ? new AccessLog(spec.access, log) : null;
    this.strace = spec.strace ? new Strace(log, spec.straceSyscalls === undefined ? null : parseSyscallFilter(spec.straceSyscalls)) : null;
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /**
   * Launches the guest. `gofer` is a Gofer already started for
   * goferExports(spec) (callers start it as early as they can: it boots while
   * the Sentry loads), or one is started here. Resolves once the guest runs
   * (or, with deferExec, waits for go()); on failure, or when terminate()
   * aborts it (StartAborted), nothing it started is left running.
   */
  async start(gofer?: { pid: number; client: GoferClient }, opts: { deferExec?: boolean } = {}): Promise<void> {
    this.deferExec = opts.deferExec ?? false;
    if (isRootless()) useCallerIds(process.getuid!(), process.getgid!());
    native.setChildSubreaper();
    this.callerNofile = setUpBounds(this);
    const g = gofer ?? spawnGofer(goferExports(this.spec), goferDevices(this.spec));
    // Before the waiter may reap it: the client says how the Gofer ended.
    native.waiterRemember(g.pid);
    native.waiterStart((ev) => this.onWaitEvents(ev));
    this.gofer = g.client;
    this.goferPid = g.pid;
    this.gofer.setInterrupt(this.interrupt);
    const goferEnded = new Promise<string>((r) => (this.onGoferExit = r));
    native.waiterKick();
    this.dispatcher = new Dispatcher(this, SYSCALLS);
    const starting = (this.starting = new AbortController());
    try {
      await this.launch(starting.signal, { who: `the Gofer (pid ${g.pid})`, ended: goferEnded });
      // The guest, left free to use every CPU, is woken on the Sentry's CPU
      // when its call is answered (SYNC_WAKE_UP); the Sentry itself is woken
      // through epoll, which loses that hint, so it stays on one CPU and
      // traps stay local: a trapped umask 14-17 us -> 6.3 us (docs/design.md).
      const cpu = native.pinSelf();
      if (cpu < 0) this.log.debug({ errno: -cpu }, 'cannot pin the Sentry to its CPU');
    } catch (e) {
      // A Gofer that died makes every later step fail (an EIO, a cwd "missing"): it is the cause.
      const goferFailure = this.gofer.failure;
      this.gofer.kill();
      await settled(this.gofer.exited());
      if (starting.signal.aborted) throw starting.signal.reason;
      if (goferFailure) throw new SandboxError(`setting up the sandbox failed: ${goferFailure}`);
      if (e instanceof SysErr) throw new SandboxError(`setting up the sandbox failed: ${errnoName(e.errno)}`);
      throw e;
    } finally {
      this.starting = undefined;
    }
  }

  /** The fd limit tsvisor was started with, the guest's unless the spec sets one. */
  private callerNofile: Rlimit = [7, 1024, 1024];

  /** Set while start() runs: terminate() aborts it. */
  private starting: AbortController | undefined;
  /** Called with how the Gofer ended, when it does. */
  private onGoferExit: ((how: string) => void) | undefined;
  /** What ends a wait for the Gofer besides its answer (catchTerminatingSignals). */
  private interrupt: WaitInterrupt | undefined;

  /** The exit status of child `pid`, once the waiter reports it. */
  private exitOf(pid: number): Promise<Exit> {
    return new Promise((r) => this.exitWaiters.set(pid, r));
  }

  /** Launcher arguments of a test hook: stop the launcher at a step (see native/launcher.c). */
  private static testStop(): string[] {
    const at = process.env.TSVISOR_TEST_STOP_LAUNCHER_AT;
    return at ? ['--stop-at', at] : [];
  }

  private async launch(abort: AbortSignal, gofer: { who: string; ended: Promise<string> }): Promise<void> {
    const s = this.spec;
    const pair = native.socketpair(SOCK_SEQPACKET);
    if (typeof pair === 'number') throw new SandboxError(`socketpair: errno ${-pair}`);
    const [ctl, theirs] = pair;
    const argv = [LAUNCHER_PATH, '--root', s.rootfs, '--hostname', s.hostname, ...Kernel.testStop()];
    if (s.domainname) argv.push('--domainname', s.domainname);
    const ownNetns = s.network === 'none' && !s.netnsPath;
    if (ownNetns && s.loopback !== false) argv.push('--lo-up');
    if (s.netnsPath) argv.push('--netns', s.netnsPath);
    if (s.ipcnsPath) argv.push('--ipcns', s.ipcnsPath);
    if (s.utsnsPath) argv.push('--utsns', s.utsnsPath);
    if (s.oomScoreAdj !== undefined) argv.push('--oom-score-adj', String(s.oomScoreAdj));
    if (s.foreground) argv.push('--foreground');
    if (s.init) argv.push('--init');
    if (s.ctty) argv.push('--ctty');
    argv.push(...capArgs(s));
    // Rootless, the guest is the caller and keeps the caller's groups (its user namespace denies setgroups).
    const rootless = isRootless();
    if (rootless) argv.push('--rootless', '--user', `${s.uid}:${s.gid}`);
    else if (s.uid !== 0 || s.gid !== 0 || s.groups.length) {
      argv.push('--user', `${s.uid}:${s.gid}${s.groups.length ? `:${s.groups.join(',')}` : ''}`);
    }
    // Rootless, the guest's namespace maps the caller alone: no exec could change its ids.
    // Made with no_new_privs too (~0.05 ms): a later exec'd process may have it clear.
    if (!rootless) argv.push('--setid-store', String(SETID_STORE_SIZE));
    argv.push(...rlimitArgs(guestRlimits(s.rlimits, this.callerNofile)));
    for (const [key, value] of Object.entries(s.sysctl ?? {})) argv.push('--sysctl', `${key}=${value}`);
    argv.push('--', ...s.args);
    let flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (ownNetns) flags |= CLONE_NEWNET;
    if (rootless) flags |= CLONE_NEWUSER;
    const r = native.spawnSandbox(LAUNCHER_PATH, argv.map(asBytes), s.env.map(asBytes), flags, [s.stdio[0], 0, s.stdio[1], 1, s.stdio[2], 2, theirs, 3]);
    native.close(theirs);
    if (typeof r === 'number') {
      native.close(ctl);
      throw new SandboxError(`cannot create the sandbox: ${errnoName(r)}`);
    }
    const [pid, sync] = r;
    this.initPid = pid;
    const exit = this.exitOf(pid);
    // It waits for the sync byte, unreaped whatever happens: the pid is still its own.
    const pidfd = native.pidfdOpen(pid, 0);
    const link = new LauncherLink(ctl, 'the launcher', pid, exit, abort, gofer);
    try {
      if (pidfd < 0) throw new SandboxError(`cannot watch the launcher: ${errnoName(pidfd)}`);
      s.onGuestProcess?.(pid);
      native.waiterKick();
      if (rootless) mapCaller(pid);
      try {
        fs.writeSync(sync, 'g');
      } catch {
        // EPIPE: it died meanwhile; the next wait says how.
      }
      // Rootless, the launcher maps the guest's user namespace itself.
      if (!rootless) {
        const storeFd = await link.expect('U', "setting up the sandbox's namespaces and root file system");
        if (storeFd >= 0) {
          const store = native.pidfdGetfd(pidfd, storeFd);
          if (store < 0) throw new SandboxError(`cannot take the set-id store: ${errnoName(-store)}`);
          this.setidStore = new SetidStore(store, this.log);
        }
        writeIdMap(pid, 'uid_map', this.guestIds.uid);
        writeIdMap(pid, 'gid_map', this.guestIds.gid);
        link.send(Buffer.from('M'), 'the uid/gid maps');
      }
      link.send(Buffer.concat([Buffer.from('F'), encode(guestFilter(SYSCALLS, this.access !== null))]), 'the seccomp filter');
      const listenerFd = await link.expect('L', 'installing the seccomp filter');
      const listener = native.pidfdGetfd(pidfd, listenerFd);
      if (listener < 0) throw new SandboxError(`cannot take the seccomp listener: ${errnoName(-listener)}`);
      if (s.seccompProfile) link.send(profileMessage(s.seccompProfile), "the container's seccomp profile");
      if (s.testChannel !== undefined) this.openTestChannel();
      // The launcher set up its namespaces meanwhile; the Gofer has had time to start.
      this.mounts = buildMounts(this, this.spec.mounts.filter((m) => m.type === 'bind'));
      const sr = native.ptraceSeize(pid, this.ptraceOptions);
      if (sr < 0) throw new SandboxError(`ptrace: errno ${-sr}`);
      this.channel = this.watch(listener);
      const proc = new Process(pid, 1, null);
      // tsvisor's init keeps the launcher's argv: it is shown as Linux shows a plain init.
      if (s.init) proc.cmdline = 'init\0';
      this.procs.set(pid, proc);
      s.access?.onProcessStart(1, 0, proc.startTime, s.init ?? false);
      const root = this.mounts.root;
      const cwd = this.initialCwd(root);
      const creds: Creds = {
        uid: s.uid, gid: s.gid, euid: s.uid, egid: s.gid, fsuid: s.uid, fsgid: s.gid, groups: s.groups,
        capEff: capMask(s.caps.effective), noNewPrivs: s.noNewPrivs,
      };
      this.tasks.set(pid, new Task(pid, 1, proc, new FsContext(root, cwd, s.umask), creds));
      if (this.deferExec) {
        // OCI create fails here, as runc's does, when the command cannot run.
        commandOrFail(root, cwd, creds, asBytes(s.args[0] ?? ''), s.env.map(asBytes));
        this.launcherCtl = ctl;
        return;
      }
      link.send(Buffer.from('G'), 'the go signal');
      native.close(ctl);
    } catch (e) {
      // Killed before its socket closes, so it never sees the end of file
      // (it would report that to stderr); then wait for it to be gone.
      if (pidfd >= 0) native.pidfdSendSignal(pidfd, 9);
      native.close(ctl);
      this.testChannel?.close();
      await settled(exit);
      throw e;
    } finally {
      if (pidfd >= 0) native.close(pidfd);
      native.close(sync);
    }
  }

  /** Opens the test channel (its node is made with /dev); its markers go to the access observer. */
  private openTestChannel(): void {
    const s = this.spec;
    const access = s.access;
    if (!access || !/^\/dev\/[^/]/.test(s.testChannel!) || !s.mounts.some((m) => m.type === 'dev' && m.destination === '/dev')) {
      throw new SandboxError(`test channel ${s.testChannel}: needs an access observer and a path under the sandbox's /dev`);
    }
    this.testChannel = new TestChannel(this.log, (m) => access.onTestMarker(m));
  }

  /** Every seccomp listener: the first process's, and one per process exec'd into the container. */
  private readonly channels: NotifyChannel[] = [];

  /** Watches a listener; `channel` is the one whose notification is being handled. */
  private watch(listener: number): NotifyChannel {
    const ch = new NotifyChannel(listener);
    ch.start(
      () => {
        this.channel = ch;
        this.dispatcher.onNotif();
      },
      () => this.log.debug('seccomp listener closed'),
    );
    this.channels.push(ch);
    return ch;
  }

  private readonly exitWaiters = new Map<number, (e: Exit) => void>();

  /**
   * Runs another process in the container (OCI exec): a launcher joins the
   * namespaces of init and forks the process, which installs its own filter
   * (so its own listener); the Sentry adopts it as it adopted init. Resolves
   * once it runs, with its exit status to come.
   */
  async execProcess(p: ExecSpec): Promise<{ pid: number; done: Promise<Exit> }> {
    if (this.exit || this.initPid <= 0) throw new SandboxError('the container is not running');
    const pair = native.socketpair(SOCK_SEQPACKET);
    if (typeof pair === 'number') throw new SandboxError(`socketpair: errno ${-pair}`);
    const [ctl, theirs] = pair;
    const argv = [LAUNCHER_PATH, '--join', String(this.initPid)];
    if (p.ctty) argv.push('--ctty');
    argv.push(...capArgs(p));
    if (p.uid !== 0 || p.gid !== 0 || p.groups.length) {
      argv.push('--user', `${p.uid}:${p.gid}${p.groups.length ? `:${p.groups.join(',')}` : ''}`);
    }
    argv.push(...rlimitArgs(guestRlimits(this.spec.rlimits, this.callerNofile)));
    argv.push('--', ...p.args);
    const pid = native.spawn(LAUNCHER_PATH, argv.map(asBytes), p.env.map(asBytes), [p.stdio[0], 0, p.stdio[1], 1, p.stdio[2], 2, theirs, 3], false);
    native.close(theirs);
    let child = -1;
    let pidfd = -1;
    try {
      if (pid < 0) throw new SandboxError(`cannot start the exec launcher: ${errnoName(-pid)}`);
      const link = new LauncherLink(ctl, 'the exec launcher', pid, this.exitOf(pid));
      child = await link.expect('P', "joining the container's namespaces");
      // The launcher exits now; its child, adopted by the Sentry (the subreaper), goes on.
      const done = this.exitOf(child);
      link.follow('the exec process', child, done);
      pidfd = native.pidfdOpen(child, 0);
      if (pidfd < 0) throw new SandboxError(`the exec process (pid ${child}) ended before it was set up`);
      this.spec.onGuestProcess?.(child);
      link.send(Buffer.concat([Buffer.from('F'), encode(guestFilter(SYSCALLS, this.access !== null))]), 'the seccomp filter');
      const fdNum = await link.expect('L', 'installing the seccomp filter');
      const listener = native.pidfdGetfd(pidfd, fdNum);
      if (listener < 0) throw new SandboxError(`cannot take the seccomp listener: ${errnoName(-listener)}`);
      if (p.seccompProfile) link.send(profileMessage(p.seccompProfile), "the container's seccomp profile");
      const sr = native.ptraceSeize(child, this.ptraceOptions);
      if (sr < 0) throw new SandboxError(`ptrace: errno ${-sr}`);
      this.watch(listener);
      const proc = new Process(child, sandboxPid(child), null);
      this.procs.set(child, proc);
      this.spec.access?.onProcessStart(proc.pid, 0, proc.startTime);
      const root = this.mounts.root;
      const cwd = resolve({ root, creds: ROOT_CREDS }, root, asBytes(p.cwd || '/'), true);
      if (!cwd.dentry.node.isDir()) throw new SandboxError(`cwd ${p.cwd} is not a directory`);
      const creds: Creds = {
        uid: p.uid, gid: p.gid, euid: p.uid, egid: p.gid, fsuid: p.uid, fsgid: p.gid, groups: p.groups,
        capEff: capMask(p.caps.effective), noNewPrivs: p.noNewPrivs,
      };
      commandOrFail(root, cwd, creds, asBytes(p.args[0] ?? ''), p.env.map(asBytes));
      this.tasks.set(child, new Task(child, proc.pid, proc, new FsContext(root, cwd, p.umask), creds));
      link.send(Buffer.from('G'), 'the go signal');
      return { pid: child, done };
    } catch (e) {
      if (pidfd >= 0) native.pidfdSendSignal(pidfd, 9);
      if (e instanceof SysErr) throw new SandboxError(`exec failed: ${errnoName(e.errno)}`);
      throw e;
    } finally {
      if (pidfd >= 0) native.close(pidfd);
      native.close(ctl);
    }
  }

  /**
   * Starts a host program (an OCI hook) as a child of the Sentry. The native
   * waiter reaps every child of this process, so one made any other way
   * (child_process) could lose its exit status to it; this one's exit comes
   * through the waiter like a guest process's.
   */
  spawnHost(path: string, argv: string[], env: string[], stdio: [number, number, number]): { pid: number; done: Promise<Exit> } {
    const pid = native.spawn(path, argv, env, [stdio[0], 0, stdio[1], 1, stdio[2], 2], false);
    if (pid < 0) throw new SandboxError(`cannot start ${path}: ${errnoName(-pid)}`);
    const done = new Promise<Exit>((r) => this.exitWaiters.set(pid, r));
    native.waiterKick();
    // Its exit must be heard even after the guest's (poststop hooks).
    native.waiterRef(true);
    return { pid, done };
  }

  private deferExec = false;
  /** The launcher's control socket while it waits to exec the guest (OCI create, before start). */
  private launcherCtl = -1;

  /** Lets a launcher held by `start(..., { deferExec: true })` exec the guest's program. */
  go(): void {
    if (this.launcherCtl < 0) throw new SandboxError('the container was already started');
    const ctl = this.launcherCtl;
    this.launcherCtl = -1;
    const r = native.sendMsg(ctl, Buffer.from('G'), 1, []);
    native.close(ctl);
    if (r < 0) throw new SandboxError('the container process went away before it was started');
  }

  private initialCwd(root: Location): Location {
    try {
      const loc = resolve({ root, creds: ROOT_CREDS }, root, asBytes(this.spec.cwd || '/'), true);
      if (!loc.dentry.node.isDir()) throw new SandboxError(`cwd ${this.spec.cwd} is not a directory`);
      return loc;
    } catch (e) {
      if (e instanceof SandboxError) throw e;
      throw new SandboxError(`cwd ${this.spec.cwd} does not exist in the sandbox`);
    }
  }

  /**
   * The task for a host tid. Every guest task is traced from its first
   * instruction and registered by its parent's fork event; one the Sentry
   * does not know escaped tracing somehow, so it is refused: its process is
   * killed and the call fails.
   */
  task(tid: number): Task {
    const t = this.tasks.get(tid);
    if (t) return t;
    this.log.error({ tid }, 'a guest task the Sentry does not trace: killed');
    this.killHostTask(tid);
    throw sysErr(ERRNO.ESRCH);
  }

  /** SIGKILL to the thread group of a host tid, through a pidfd (no pid-reuse race once opened). */
  private killHostTask(tid: number): void {
    const pidfd = native.pidfdOpen(hostTgid(tid), 0);
    if (pidfd < 0) return;
    native.pidfdSendSignal(pidfd, 9);
    native.close(pidfd);
  }

  // ---- ptrace lifecycle ------------------------------------------------

  private onWaitEvents(ev: Int32Array): void {
    for (let i = 0; i < ev.length; i += 2) {
      try {
        this.onWaitEvent(ev[i]!, ev[i + 1]!);
      } catch (e) {
        this.log.error({ err: e, pid: ev[i] }, 'lifecycle event failed');
      }
    }
    this.maybeFinish();
  }

  private onWaitEvent(pid: number, status: number): void {
    if ((status & 0xff) === 0x7f) {
      const sig = (status >> 8) & 0xff;
      const event = status >>> 16;
      switch (event) {
        case PTRACE_EVENT_FORK:
        case PTRACE_EVENT_VFORK:
        case PTRACE_EVENT_CLONE:
          this.onClone(pid, native.ptraceGetEventMsg(pid));
          native.ptraceCont(pid, 0);
          return;
        case PTRACE_EVENT_EXEC:
          this.onExec(pid, native.ptraceGetEventMsg(pid));
          native.ptraceCont(pid, 0);
          return;
        case PTRACE_EVENT_EXIT:
          this.onExitStop(pid);
          native.ptraceCont(pid, 0);
          return;
        case PTRACE_EVENT_SECCOMP:
          this.onTraceStop(pid);
          return;
        case PTRACE_EVENT_STOP:
          if (this.unstarted.delete(pid)) {
            this.startTask(pid);
          } else if (!this.tasks.has(pid)) {
            this.earlyStops.add(pid);
          } else {
            const t = this.tasks.get(pid)!;
            t.groupStopped = STOP_SIGNALS.has(sig);
            if (t.groupStopped) {
              // A group-stop came first: the open's registers are gone, the terminal is not taken.
              t.takesTerminal = false;
              native.ptraceListen(pid); // group-stop: stay stopped until SIGCONT
            } else if (!(t.takesTerminal && onReturnStop(t)) && !closeStale(t)) {
              native.ptraceCont(pid, 0);
            }
          }
          return;
        default:
          if (sig === SYSCALL_STOP_SIG) {
            this.onSyscallStop(pid);
            return;
          }
          if (this.tasks.get(pid)?.injection) {
            deferSignal(pid, this.tasks.get(pid)!.injection!, sig);
            return;
          }
          if (this.isFatalFaultOfInit(pid, sig)) {
            // See isFatalFaultOfInit: let the fault repeat untraced.
            native.ptraceDetach(pid, 0);
            return;
          }
          native.ptraceCont(pid, sig); // signal-delivery stop: deliver it
          return;
      }
    }
    this.onExit(pid, status);
  }

  /**
   * A synchronous fault (SIGSEGV, SIGBUS, ...) raised by the kernel in the
   * sandbox's init, with no handler to run. Linux keeps a *traced*
   * namespace init unkillable even then, so re-injecting the signal would
   * make the faulting instruction run again forever. Detached, the fault
   * repeats untraced and kills init with the signal, as it does natively
   * (the Sentry, its parent, still collects the status).
   */
  private isFatalFaultOfInit(tid: number, sig: number): boolean {
    if (!FAULT_SIGNALS.has(sig) || this.tasks.get(tid)?.proc.pid !== 1) return false;
    const si = new Int32Array(3);
    if (native.ptraceGetSiginfo(tid, si) < 0 || si[2]! <= 0) return false; // sent by kill(): init ignores it
    const m = signalMasks(tid);
    if (!m) return false;
    const bit = 1n << BigInt(sig - 1);
    return (m.caught & bit) === 0n || (m.blocked & bit) !== 0n;
  }

  private onClone(parentTid: number, childTid: number): void {
    const parent = this.tasks.get(parentTid);
    if (!parent) {
      this.log.error({ tid: parentTid }, 'a fork by a task the Sentry does not trace: both killed');
      this.killHostTask(childTid);
      this.killHostTask(parentTid);
      return;
    }
    const regs = new BigUint64Array(USER_REGS_WORDS);
    let flags = 0;
    if (native.ptraceGetRegs(parentTid, regs) === 0 && Number(regs[REG.origRax]) === NR_CLONE) flags = Number(regs[REG.rdi]! & 0xffffffffn);
    const isThread = (flags & CLONE_THREAD) !== 0;
    let proc = parent.proc;
    if (!isThread) {
      // CLONE_PARENT: the child is a sibling of the caller, not its child.
      proc = new Process(childTid, sandboxPid(childTid), flags & CLONE_PARENT ? parent.proc.parent : parent.proc);
      proc.exe = parent.proc.exe;
      proc.exePath = parent.proc.exePath;
      proc.comm = parent.proc.comm;
      proc.hostComm = parent.proc.hostComm;
      proc.execFnAddr = parent.proc.execFnAddr;
      proc.baseAddr = parent.proc.baseAddr;
      proc.oom = parent.proc.oom.child();
      proc.dumpable = parent.proc.dumpable;
      this.procs.set(childTid, proc);
      this.spec.access?.onProcessStart(proc.pid, proc.parent?.pid ?? 0, proc.startTime);
    }
    const fsctx = flags & CLONE_FS ? parent.fs : parent.fs.copy();
    const child = new Task(childTid, isThread ? sandboxPid(childTid) : proc.pid, proc, fsctx);
    child.inheritCreds(parent);
    if (flags & CLONE_FILES) child.useFiles(parent.files);
    child.keptNice = parent.keptNice;
    child.keptIoprio = parent.keptIoprio;
    this.tasks.set(childTid, child);
    this.spec.events?.onFork(parentTid, childTid, proc.pid, isThread);
    if (parent.clone3Regs) {
      // The clone was a clone3: both get their own registers back (clone3.ts).
      restoreArgs(parentTid, parent.clone3Regs);
      child.clone3Regs = parent.clone3Regs;
      child.clearSighand = parent.clearSighand;
      parent.clone3Regs = undefined;
      parent.clearSighand = false;
    }
    if (this.earlyStops.delete(childTid)) this.startTask(childTid);
    else this.unstarted.add(childTid);
  }

  private onExec(tid: number, formerTid: number): void {
    let t = this.tasks.get(formerTid) ?? this.task(tid);
    if (formerTid !== tid) {
      // A non-leader thread exec'd: it takes over the leader's tid; every other thread is gone.
      this.tasks.delete(formerTid);
      t.proc.threads.delete(formerTid);
      const old = this.tasks.get(tid);
      if (old) old.proc.threads.delete(tid);
      t.tid = tid;
      t.nsTid = t.proc.pid;
      t.proc.threads.set(tid, t);
      this.tasks.set(tid, t);
    }
    for (const [otherTid, other] of t.proc.threads) {
      if (other !== t) {
        dropPendingExec(other);
        other.leaveFiles();
        t.proc.threads.delete(otherTid);
        this.tasks.delete(otherTid);
      }
    }
    // The first exec after the go signal is the command's (init's own, or with tsvisor's init its child's).
    this.commandStarted = true;
    const pe = t.pendingExec;
    const ran = pe ? ranInstalled(tid, pe) : true;
    // The kernel gave the process a table of its own: a copy, if it was
    // shared, where the fd installed for the exec stays unless withdrawn.
    const shared = t.files;
    t.useFiles(new FdTable());
    if (ran === true && pe) leaveStale(shared, pe);
    if (ran !== true) {
      // Another thread changed what the rewritten call named: the process dies before its first instruction.
      if (ran === false) this.warnExecKilled({ tid, exe: pe!.exePath }, 'an exec ran another file than the one checked: the process is killed');
      dropPendingExec(t);
      this.killHostTask(tid);
      return;
    }
    // Read here, stopped before the new image runs: its credentials from now on.
    const creds = readCreds(tid);
    t.proc.dumpable = dumpableAfterExec(dumpCreds(creds), pe);
    t.proc.execFnAddr = undefined;
    t.proc.baseAddr = undefined;
    t.proc.execFnFix = undefined;
    t.proc.loaderOpen = pe?.loader ? { path: pe.loader.program, loc: pe.exe } : undefined;
    if (pe) {
      t.proc.exe = pe.exe;
      t.proc.exePath = pe.exePath;
      t.proc.comm = pe.comm;
      t.proc.hostComm = hostComm(tid);
      fixStartBlock(t, pe.execFn, pe.loader);
      dropPendingExec(t);
      if (pe.access) this.access?.file(pe.access);
    }
    this.spec.events?.onExec(tid, formerTid, t.proc.exePath);
    if (this.spec.access) {
      // Stopped before the new program's first instruction: its argv is as the kernel gave it.
      t.proc.peakRss = null;
      this.spec.access.onProcessExec(t.proc.pid, t.proc.exePath, hostArgv(tid));
    }
    // Writes to oom_score_adj the process made reach the host's value before the new program runs.
    t.proc.oom.settle();
    t.injection = undefined;
    // Credentials may change at exec (capabilities are recomputed): the ones read above.
    t.invalidateCreds();
    if (creds) t.knownCreds(creds);
  }

  /** A seccomp trace stop: execve/execveat to rewrite, or a credential change to observe. */
  private onTraceStop(tid: number): void {
    const t = this.task(tid);
    const info = new Float64Array(11);
    if (native.ptraceGetSyscallInfo(tid, info) < 0) {
      native.ptraceCont(tid, 0);
      return;
    }
    // A filter the guest installed asked for the stop: nothing traces the
    // guest on its behalf, so the call fails as on Linux without a tracer.
    if (info[10] !== TRACE_DATA) {
      native.ptraceSkipSyscall(tid, -ERRNO.ENOSYS);
      native.ptraceCont(tid, 0);
      return;
    }
    const nr = info[1]!;
    const entry = byNumber[nr];
    if (entry?.name === 'execve' || entry?.name === 'execveat') {
      // The task resolving the path is "self" for /proc (execve("/proc/self/exe")).
      this.current = t;
      const toExitStop = onExecTraceStop(this, t, info);
      this.current = undefined;
      if (toExitStop) {
        native.ptraceSyscall(tid, 0);
        return;
      }
    } else if (nr === NR_CLONE) {
      clearUntraced(tid);
    } else if (nr === NR_CLONE3) {
      this.onClone3Stop(t, info);
      return;
    } else if (nr === NR_PRCTL && info[2] === PR_SET_DUMPABLE) {
      // 0 or 1 (anything else fails with EINVAL), set as the call runs on.
      if (info[3] === 0 || info[3] === 1) t.proc.dumpable = info[3] === 1;
    } else {
      // A credential change runs natively; re-read the credentials next time.
      t.invalidateCreds();
      if (entry && isRootless() && changesToOtherId(entry.name, info.subarray(2, 8))) {
        native.ptraceSkipSyscall(tid, -ERRNO.EPERM);
      }
      // Its exit stop tells whether it made the process not dumpable.
      t.credsBefore = dumpCreds(readCreds(tid)) ?? undefined;
      if (t.credsBefore) {
        native.ptraceSyscall(tid, 0);
        return;
      }
    }
    native.ptraceCont(tid, 0);
  }

  /**
   * clone3's trace stop: rewritten into clone (clone3.ts), resumed to the
   * call's exit stop so the registers are put back even if it fails.
   */
  private onClone3Stop(t: Task, info: Float64Array): void {
    const size = info[3]!;
    let args: unknown; // the struct, or why it cannot be read
    try {
      if (size > 4096) throw sysErr(ERRNO.E2BIG);
      args = readBytes(t, info[2]!, size);
    } catch (e) {
      args = e;
    }
    this.spec.events?.onCloneCall(t.tid, t.proc.tgid, 'clone3', args instanceof Buffer && args.length >= 8 ? args.readBigUInt64LE(0) : null);
    try {
      if (!(args instanceof Buffer)) throw args;
      ({ saved: t.clone3Regs, clearSighand: t.clearSighand } = rewriteClone3(t.tid, args));
    } catch (e) {
      this.spec.events?.onCloneResult(t.tid, e instanceof SysErr ? e.errno : ERRNO.EFAULT, false);
      native.ptraceSkipSyscall(t.tid, -(e instanceof SysErr ? e.errno : ERRNO.EFAULT));
      native.ptraceCont(t.tid, 0);
      return;
    }
    native.ptraceSyscall(t.tid, 0);
  }

  /**
   * Lets a new task run from its first stop, with the registers its
   * creator's call left it (clone3.ts), and for CLONE_CLEAR_SIGHAND with
   * its inherited handlers reset first.
   */
  private startTask(tid: number): void {
    const t = this.tasks.get(tid);
    if (t?.clone3Regs) {
      restoreArgs(tid, t.clone3Regs);
      t.clone3Regs = undefined;
    }
    if (t?.clearSighand) {
      t.clearSighand = false;
      const calls = clearSighandCalls(tid, signalMasks(tid)?.caught ?? 0n);
      const regs = new BigUint64Array(USER_REGS_WORDS);
      if (calls.length > 0 && native.ptraceGetRegs(tid, regs) === 0) {
        t.injection = startInjection(tid, calls, regs) ?? undefined;
        if (t.injection) return;
      }
    }
    native.ptraceCont(tid, 0);
  }

  /**
   * A syscall-exit stop (or an entry stop while the Sentry runs a call in the
   * thread): only threads resumed with PTRACE_SYSCALL get here.
   */
  private onSyscallStop(tid: number): void {
    const t = this.tasks.get(tid);
    if (t?.injection) {
      if (onInjectionStop(tid, t.injection)) t.injection = undefined;
      return;
    }
    const info = new Float64Array(11);
    if (t?.pendingExec && native.ptraceGetSyscallInfo(tid, info) === PTRACE_SYSCALL_INFO_EXIT) {
      onExecExitStop(this, t, info[10]!);
      return;
    }
    if (t?.credsBefore) {
      const now = readCreds(tid);
      if (now) t.knownCreds(now);
      const after = dumpCreds(now);
      if (after && dropsDumpable(t.credsBefore, after)) t.proc.dumpable = suidDumpable();
      t.credsBefore = undefined;
    }
    if (t?.clone3Regs) {
      // A clone3 that failed: the caller's own registers, with the error.
      if (this.spec.events && native.ptraceGetSyscallInfo(tid, info) === PTRACE_SYSCALL_INFO_EXIT) this.spec.events.onCloneResult(tid, -info[10]!, true);
      restoreArgs(tid, t.clone3Regs);
      t.clone3Regs = undefined;
      t.clearSighand = false;
    }
    native.ptraceCont(tid, 0);
  }

  private onExit(pid: number, status: number): void {
    if (pid === this.goferPid) {
      this.goferPid = -1;
      if (!this.exit) {
        const how = status & 0x7f ? `killed by signal ${status & 0x7f}` : `exit status ${(status >> 8) & 0xff}`;
        this.goferFailure = `it ${how}`;
        this.log.error(`the gofer exited (${how})`);
      }
      this.onGoferExit?.(describeExit(exitOfStatus(status)));
      return;
    }
    const t = this.tasks.get(pid);
    if (t) {
      this.tasks.delete(pid);
      t.proc.threads.delete(pid);
      if (pid === t.proc.tgid) t.proc.keptNice = t.keptNice;
      dropPendingExec(t);
      t.leaveFiles();
      requestCleaner(t.files);
      if (t.proc.threads.size === 0) {
        t.proc.exited = true;
        t.proc.oom.release();
        memoryGone(t.proc);
        this.procs.delete(t.proc.tgid);
        this.addZombie(t.proc);
        if (this.spec.access) {
          if (t.proc.tgid === this.initPid) this.tellCommandExit();
          this.spec.access.onProcessExit(t.proc.pid, exitOfStatus(status), t.proc.peakRss, Date.now());
        }
      }
    }
    this.earlyStops.delete(pid);
    this.unstarted.delete(pid);
    const exitWaiter = this.exitWaiters.get(pid);
    if (exitWaiter) {
      this.exitWaiters.delete(pid);
      if (this.exit && this.exitWaiters.size === 0) native.waiterRef(false);
      exitWaiter(exitOfStatus(status));
    }
    if (pid === this.initPid && !this.exit) {
      const termsig = this.killedBy && (status & 0x7f) === 9 ? this.killedBy : status & 0x7f;
      this.exit = termsig ? { status: 128 + termsig, signal: termsig } : { status: (status >> 8) & 0xff, code: (status >> 8) & 0xff };
      this.onInitExit();
    }
  }

  /**
   * An exit stop (PTRACE_O_TRACEEXIT, set only for an access observer): the
   * thread's memory is still there, so its peak is read here. Once every
   * thread of init is at or past its stop, the command has ended, with the
   * rest of the sandbox still running: Linux kills it only as init's last
   * thread goes on to exit. (A thread killed by another's exec also stops
   * here, but the exec'ing thread does not.)
   */
  private onExitStop(tid: number): void {
    const t = this.tasks.get(tid);
    if (!t) return;
    t.exiting = true;
    notePeakRss(t.proc, tid);
    if (t.proc.tgid === this.initPid && [...t.proc.threads.values()].every((x) => x.exiting)) this.tellCommandExit();
  }

  /** Tells the access observer, once, which processes were still running when the command ended. */
  private tellCommandExit(): void {
    if (this.commandExitTold) return;
    this.commandExitTold = true;
    const left = [...this.procs.values()].filter((p) => !p.exited && p.tgid !== this.initPid);
    // They are about to be killed: their peak is read while they still run.
    for (const p of left) notePeakRss(p, p.tgid);
    this.spec.access!.onCommandExit(left.map((p) => p.pid), Date.now());
  }

  /**
   * A process whose exit the Sentry collected stays a /proc entry while the
   * host holds it as a zombie for its parent. Reaped ones are swept when the
   * table doubles, so it is bounded by the zombies the host itself keeps,
   * and by zombieBudget: past it a zombie goes unlisted rather than hold one
   * more of the Sentry's fds (reaped zombies' pidfds would otherwise stay
   * until the next sweep and leave the guest's calls ENFILE).
   */
  private addZombie(p: Process): void {
    if (!p.keepAsZombie()) return;
    if (this.zombies.size >= Math.min(this.zombieSweepAt, this.zombieBudget)) {
      this.sweepZombies();
      this.zombieSweepAt = Math.max(ZOMBIE_SWEEP_MIN, 2 * this.zombies.size);
    }
    if (this.zombies.size >= this.zombieBudget) {
      p.dropPidfd();
      return;
    }
    this.zombies.set(p.tgid, p);
  }

  private sweepZombies(): void {
    for (const [tgid, p] of this.zombies) {
      if (p.isZombie()) continue;
      p.dropPidfd();
      this.zombies.delete(tgid);
    }
  }

  /** The zombie of a host tgid, if its parent has not reaped it yet. */
  zombie(tgid: number): Process | undefined {
    const p = this.zombies.get(tgid);
    return p?.isZombie() ? p : undefined;
  }

  /** The zombie processes (not yet reaped by their parent), for /proc. */
  liveZombies(): Process[] {
    this.sweepZombies();
    return [...this.zombies.values()];
  }

  /**
   * The sandbox ends with its init: Linux kills every other process of the
   * pid namespace, and the Sentry makes sure of it (a process it knows is
   * killed through its pidfd). The sandbox is done when the last traced task
   * is reaped, or after FINISH_BOUND_MS whatever the kernel still reports.
   */
  private onInitExit(): void {
    clearTimeout(this.terminateTimer);
    this.signalAll(9);
    this.finishTimer = setTimeout(() => {
      if (this.tasks.size) this.log.warn({ tasks: [...this.tasks.keys()] }, 'guest tasks still unreaped after init exited');
      this.tasks.clear();
      this.maybeFinish();
    }, FINISH_BOUND_MS);
  }

  private finishTimer: NodeJS.Timeout | undefined;

  private maybeFinish(): void {
    if (!this.exit || this.tasks.size > 0 || this.finished) return;
    this.finished = true;
    clearTimeout(this.finishTimer);
    this.spec.onFinish?.();
    this.shutdown();
    this.resolveDone(this.exit);
  }

  private finished = false;

  /** Whether the sandbox's command was exec'd (a status 0 without it would be a lie). */
  commandStarted = false;

  /**
   * The signals that end the command (`tsvisor do`), handled by terminate()
   * with `graceMs`. Node's listener for each calls onTerminatingSignal(); but
   * while the Sentry waits synchronously for its Gofer, the event loop, and
   * so the listeners and the grace timer, cannot run. signalWake's handler
   * counts each signal and wakes such a wait, which handles it at once: each
   * delivery is handled once, by whichever path takes it first. The wait is
   * given up only when the sandbox ends (at once, or when the grace is over),
   * and then every guest process is killed first, so none runs on to see the
   * abandoned call fail; otherwise the live Gofer is waited for. `timeout`
   * sends its signal to tsvisor and then to tsvisor's process group: that
   * repeat (same sender, within SAME_REQUEST_MS) is one request, not the
   * second one that ends the sandbox at once.
   */
  catchTerminatingSignals(sigs: number[], graceMs: number): void {
    this.graceMs = graceMs;
    const fd = native.signalWake(sigs, SAME_REQUEST_MS);
    if (fd < 0) {
      this.log.warn({ errno: -fd }, 'signals cannot interrupt a wait for the Gofer');
      return;
    }
    this.signalsCounted = true;
    this.interrupt = {
      fd,
      wakeAfterMs: () => (this.grace && !this.killedBy ? Math.max(0, this.grace.end - Date.now()) : -1),
      abandon: () => {
        this.takeSignals();
        const aborted = this.starting?.signal.reason;
        if (aborted instanceof StartAborted) return `tsvisor received ${signalName(aborted.signal)} during start-up`;
        if (this.grace && !this.killedBy && Date.now() >= this.grace.end) this.endGrace();
        if (!this.killedBy && !this.exit) return undefined;
        this.signalAll(9);
        return this.killedBy ? `tsvisor received ${signalName(this.killedBy)}` : 'the sandbox ended';
      },
    };
    this.gofer?.setInterrupt(this.interrupt);
  }

  /** A terminating signal's Node listener (see catchTerminatingSignals). */
  onTerminatingSignal(sig: number): void {
    if (this.signalsCounted) this.takeSignals();
    else this.terminate(sig, this.graceMs);
  }

  private takeSignals(): void {
    for (const sig of native.signalTake()) this.terminate(sig, this.graceMs);
  }

  private graceMs = 0;
  private signalsCounted = false;

  /** Ends the Gofer now (after shutdown() told it to go) and waits until it is gone. */
  async endGofer(): Promise<void> {
    this.gofer.kill();
    await settled(this.gofer.exited());
  }

  /** Why the Gofer failed while the guest ran, if it did. */
  goferFailure: string | undefined;
  /** an O_PATH fd of the guests' native root (the launcher's read-only view), where the kernel looks up ELF interpreters; opened at the first exec that names one */
  nativeRoot = -1;

  /** Tears the sandbox down: stop listening, let the Gofer go. */
  shutdown(): void {
    this.goferFailure ??= this.gofer?.failure;
    this.testChannel?.close();
    for (const ch of this.channels) ch.stop();
    this.inotify.close();
    this.gofer?.close();
    native.waiterRef(false);
  }

  /** Forwards a signal to the guest's init, with Linux's semantics for a namespace init; false once init is gone. */
  signal(sig: number): boolean {
    if (this.exit) return false;
    const init = this.tasks.get(this.initPid)?.proc;
    if (!init) return false;
    // Through a pidfd: once init is reaped its pid may belong to another host process.
    try {
      return native.pidfdSendSignal(init.pidfd(), sig) === 0;
    } catch {
      return false;
    }
  }

  /** Sends `sig` to every guest process (runc kill --all). */
  signalAll(sig: number): void {
    for (const p of this.procs.values()) {
      if (p.exited) continue;
      try {
        native.pidfdSendSignal(p.pidfd(), sig);
      } catch {
        /* exited meanwhile */
      }
    }
  }

  /** Host pids of the guest's live processes (runc ps). */
  hostPids(): number[] {
    return [...this.procs.values()].filter((p) => !p.exited).map((p) => p.tgid);
  }

  /**
   * A signal from outside sent to end the command (`tsvisor do` receiving
   * SIGTERM from `timeout`, SIGINT...). With tsvisor's init (spec.init), init
   * passes it on to the command, which may handle it; whatever the guest does,
   * the sandbox is killed after `graceMs`, or at once on a second such
   * signal, and the status reports death by the signal. Without one (an OCI
   * container's own process is pid 1), like `runsc do`: init is killed when
   * it has no handler for it (Linux would let a namespace init ignore it).
   */
  terminate(sig: number, graceMs: number): void {
    if (this.starting) return this.starting.abort(new StartAborted(sig));
    if (this.initPid <= 0 || this.exit) return;
    if (this.terminateTimer || (!this.spec.init && DEFAULT_TERMINATES.has(sig) && !this.initHandles(sig))) {
      this.killedBy = sig;
      this.signal(9);
      return;
    }
    this.signal(sig);
    this.grace = { end: Date.now() + graceMs, sig };
    this.terminateTimer = setTimeout(() => this.endGrace(), graceMs);
  }

  /** The grace given by terminate() is over: the sandbox is killed. */
  private endGrace(): void {
    this.killedBy = this.grace!.sig;
    this.signal(9);
  }

  private killedBy = 0;
  private terminateTimer: NodeJS.Timeout | undefined;
  private grace: { end: number; sig: number } | undefined;

  /** Whether init catches or ignores `sig`. */
  private initHandles(sig: number): boolean {
    const m = signalMasks(this.initPid);
    if (!m) return true;
    return ((m.caught | m.ignored) & (1n << BigInt(sig - 1))) !== 0n;
  }

  /** Kills every guest process (the pid namespace dies with its init). */
  kill(): void {
    this.signal(9);
  }

  /** An absolute path as the task sees it, for /proc links and getcwd. */
  rootMount(): Mount {
    return this.mounts.root.mount;
  }
}

/**
 * clone() with CLONE_UNTRACED (the filter stops those): the flag would keep
 * the Sentry from tracing the child, so it is cleared and the call goes on.
 * Linux gives the flag no other meaning for a process that is not traced by
 * its own kind, so the guest sees no difference.
 */
function clearUntraced(tid: number): void {
  const regs = new BigUint64Array(USER_REGS_WORDS);
  if (native.ptraceGetRegs(tid, regs) < 0) return;
  regs[REG.rdi] = regs[REG.rdi]! & ~BigInt(CLONE_UNTRACED);
  native.ptraceSetRegs(tid, regs);
}

/**
 * A spec's string (Unicode, as JSON and process.argv give it) as the native
 * layer and the VFS take names and arguments: its UTF-8 bytes, one char each.
 */
function asBytes(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** How a process ended, from its wait status. */
function exitOfStatus(status: number): Exit {
  const sig = status & 0x7f;
  return sig ? { status: 128 + sig, signal: sig } : { status: (status >> 8) & 0xff, code: (status >> 8) & 0xff };
}

/** Maps the launcher's new user namespace (idmap.ts: never onto host root or tsvisor's own ids). */
function writeIdMap(pid: number, file: 'uid_map' | 'gid_map', ranges: IdMaps['uid']): void {
  try {
    fs.writeFileSync(`/proc/${pid}/${file}`, mapLines(ranges));
  } catch (e) {
    throw new SandboxError(`cannot write the sandbox's ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** Waits for `p` to settle, at most `ms`: the end of processes just sent SIGKILL (only a kernel stuck in I/O could take longer). */
function settled(p: Promise<unknown>, ms = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(() => undefined, () => undefined),
    new Promise<void>((r) => (timer = setTimeout(r, ms))),
  ]).finally(() => clearTimeout(timer));
}

function capMask(caps: readonly number[]): bigint {
  return caps.reduce((m, c) => m | (1n << BigInt(c)), 0n);
}

/** The launcher's --caps (bounding:effective:permitted:inheritable:ambient) and --keep-privs. */
function capArgs(p: { caps: Capabilities; noNewPrivs: boolean }): string[] {
  const { bounding, effective, permitted, inheritable, ambient } = p.caps;
  const sets = [bounding, effective, permitted, inheritable, ambient].map((s) => `0x${capMask(s).toString(16)}`);
  return ['--caps', sets.join(':'), ...(p.noNewPrivs ? [] : ['--keep-privs'])];
}

function rlimitArgs(rlimits: readonly Rlimit[]): string[] {
  return rlimits.flatMap(([res, soft, hard]) => ['--rlimit', `${res}:${soft < 0 ? 'inf' : soft}:${hard < 0 ? 'inf' : hard}`]);
}

/** The launcher's 'S' message: the container's seccomp profile, its flags (u32) then its sock_filter[]. */
function profileMessage(p: SeccompProfile): Buffer {
  const flags = Buffer.alloc(4);
  flags.writeUInt32LE(p.flags);
  return Buffer.concat([Buffer.from('S'), flags, p.filter]);
}

/** The command must be executable in the sandbox (see lookpath.ts); the error reads like runc's. */
function commandOrFail(root: Location, cwd: Location, creds: Creds, name: string, env: readonly string[]): void {
  try {
    checkCommand(root, cwd, creds, name, env);
  } catch (e) {
    if (e instanceof CommandNotFound) throw new SandboxError(`unable to start container process: ${e.message}`);
    throw e;
  }
}

/**
 * The first port a process without CAP_NET_BIND_SERVICE may bind: the spec's
 * sysctl, else Linux's default in a network namespace of the sandbox's own,
 * else (a namespace shared with the host or given by path) the value of the
 * namespace the Sentry runs in.
 */
function unprivilegedPortStart(spec: SandboxSpec): number {
  const set = spec.sysctl?.['net.ipv4.ip_unprivileged_port_start'];
  if (set !== undefined) return Number(set);
  if (spec.network === 'none' && !spec.netnsPath) return 1024;
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'latin1'));
  } catch {
    return 1024;
  }
}

/**
 * Whether a process is dumpable after an exec (`pe`, null for one the Sentry
 * did not rewrite), as Linux's begin_new_exec decides: not if the task may
 * not read the program or its interpreter (would_dump), or its effective
 * ids were not its real ones, or the exec changed its effective ids or
 * gave it permitted capabilities (a set-id file, file capabilities:
 * commit_creds); then it is what fs.suid_dumpable says. `after`: its
 * credentials after the exec.
 */
function dumpableAfterExec(after: DumpCreds | null, pe: PendingExec | undefined): boolean {
  const before = pe ? pe.before : after;
  if (!after || !before) return suidDumpable();
  const keeps = (!pe || pe.readable) && before.euid === before.uid && before.egid === before.gid && !dropsDumpable(before, after);
  return keeps || suidDumpable();
}
