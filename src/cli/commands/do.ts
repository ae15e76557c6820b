// tsvisor do: run one command in a sandbox, like `runsc do`. With no --root
// the sandbox sees the host root read-only under an in-memory overlay and
// has no network. The guest's exit status (or 128 + signal) is tsvisor's.
import fs from 'node:fs';
import os from 'node:os';
import tty from 'node:tty';
import { RLIMIT_NOFILE, RLIMIT_NPROC } from '../../abi/linux.js';
import { spawnGofer } from '../../gofer/client.js';
import { native } from '../../platform/native.js';
import { isRootless, userNamespaceBlocker } from '../../sentry/rootless.js';
import { type AccessEvents, type Exit, type GuestEvents, type MountSpec, type SandboxSpec, goferExports, rootCapabilities } from '../../sentry/spec.js';
import { RuntimeError } from '../../oci/runtime.js';
import type { Command } from '../main.js';
import { type FlagSpec, type FlagValues, UsageError, parseFlags, wrongArguments } from '../flags.js';
import type { Logger } from '../../log.js';
import type { Kernel } from '../../sentry/kernel.js';
import { CALLER_NOFILE_ENV, DEFAULT_LIMITS, type GuestLimits, parseSize } from '../../sentry/limits.js';

export const DO_FLAGS: readonly FlagSpec[] = [
  { name: 'root', type: 'string', help: 'root directory of the sandbox (default: the host root, read-only, with --overlay)' },
  { name: 'overlay', type: 'bool', help: 'keep every write in memory (default with the host root)' },
  { name: 'network', type: 'string', choices: ['none', 'host'], help: 'none: loopback only (default); host: the host network' },
  { name: 'cwd', type: 'string', help: 'working directory in the sandbox (default: the current one with the host root, else /)' },
  { name: 'env', type: 'list', help: 'KEY=VALUE added to the environment (repeatable)' },
  { name: 'hostname', type: 'string', help: 'host name the sandbox reports (default: the host name)' },
  { name: 'init', type: 'bool', help: 'run a minimal init as pid 1 that passes signals on and reaps orphans (default; --no-init makes the command pid 1)' },
  { name: 'memory', type: 'string', help: 'memory the guest processes may use together, e.g. 2g (default: half of the memory; 0: no limit); needs a cgroup tsvisor may write, else a warning says it is not enforced' },
  { name: 'pids', type: 'string', help: "processes and threads the guest may have together (default: 4096; 0: no limit); without a cgroup, the guest's RLIMIT_NPROC" },
  { name: 'overlay-size', type: 'string', help: 'bytes the in-memory overlay may hold, e.g. 10g (default: a quarter of the memory)' },
  { name: 'overlay-inodes', type: 'string', help: 'files, directories and links the overlay may hold (default: 262144)' },
  { name: 'shm-size', type: 'string', help: 'size of /dev/shm (default: 64m)' },
  { name: 'open-files', type: 'string', help: "the guest's open file limit, RLIMIT_NOFILE (default: tsvisor's own)" },
];

/**
 * Signals tsvisor passes on to the guest. The first four end the command:
 * the guest gets them first and is killed if it is still there GRACE_MS
 * later (or at the next one), so tsvisor always ends.
 */
const TERMINATING: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM'];
const FORWARDED: NodeJS.Signals[] = ['SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];
const GRACE_MS = 5000;

export const doCommand: Command = {
  summary: 'run a command in a sandbox',
  usage: 'do [flags] -- COMMAND [ARGS...]',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(argv, DO_FLAGS, true);
    if (rest.length === 0) throw wrongArguments();
    return runInSandbox(globals, flags, rest);
  },
};

/**
 * What observes a sandbox run (tsvisor coverage): its events, and each guest
 * process before it runs, with the log. `traces`: it prints every call
 * (coverage --strace), so the Sentry's own strace is off and the log logs them.
 */
export interface Observer extends GuestEvents {
  onGuestProcess(hostPid: number, log: Logger): void;
  readonly traces?: boolean;
}

/** What tsvisor test adds to a sandbox made from do's flags (src/testrun/). */
export interface TestSandbox {
  access: AccessEvents;
  hidden?: string[];
  testChannel?: string;
  /** mounts after do's own (a private /tmp, --allow-write binds) */
  mounts?: MountSpec[];
  /** aborted: the guest is killed (tsvisor test --timeout) */
  stop?: AbortSignal;
  /** called once the guest is gone, with how it ended, before the cgroup is removed */
  onEnd?(end: SandboxEnd): void | Promise<void>;
  /** with --network none: false keeps the sandbox's loopback down (tsvisor test --network none) */
  loopback?: boolean;
  /** called once the guest is gone, while the overlay and the Gofer behind it can still be read (src/testrun/writes.ts) */
  afterRun?: (kernel: Kernel) => void;
}

/** How a sandbox's guest ended (TestSandbox.onEnd). */
export interface SandboxEnd {
  exit: Exit;
  /** the most memory the guest processes used together (their cgroup's peak), when known */
  peakMemory: number | null;
  /** guest processes the memory limit killed */
  oomKills: number;
}

/**
 * Runs `rest` in a sandbox made from do's flags; resolves to tsvisor's exit
 * status. A sandbox that cannot be set up or run throws a RuntimeError
 * (status 125), a bad flag a UsageError: the caller reports them.
 */
export async function runInSandbox(globals: FlagValues, flags: FlagValues, rest: string[], observer?: Observer, test?: TestSandbox): Promise<number> {
  const rootless = isRootless();
  const blocker = rootless ? userNamespaceBlocker() : undefined;
  if (blocker) throw new RuntimeError(blocker, 125);
  let rootfs: string;
  try {
    rootfs = fs.realpathSync((flags.root as string | undefined) ?? '/');
  } catch {
    throw new RuntimeError(`--root ${flags.root}: no such directory`, 125);
  }
  if (!fs.statSync(rootfs).isDirectory()) throw new RuntimeError(`--root ${flags.root}: not a directory`, 125);
  const overlay = (flags.overlay as boolean | undefined) ?? (globals.overlay as boolean | undefined) ?? rootfs === '/';
  if (flags.root === undefined && !overlay) {
    throw new UsageError('--no-overlay writes through to the root directory, here the host\'s own: name the root to write to with --root DIR');
  }
  const env = guestEnvironment();
  for (const e of (flags.env as string[] | undefined) ?? []) {
    if (!/^[^=]+=/.test(e)) throw new UsageError(`--env ${e}: expected KEY=VALUE`);
    const key = e.slice(0, e.indexOf('='));
    const i = env.findIndex((x) => x.startsWith(`${key}=`));
    if (i >= 0) env[i] = e;
    else env.push(e);
  }
  const network = (flags.network as 'none' | 'host' | undefined) ?? ((globals.network === 'host' ? 'host' : 'none') as 'none' | 'host');
  const limits = guestLimits(flags);
  const spec: SandboxSpec = {
    rootfs,
    rootReadonly: false,
    overlay,
    network,
    args: rest,
    env,
    cwd: (flags.cwd as string | undefined) ?? (rootfs === '/' ? process.cwd() : '/'),
    // The command runs as its caller, as natively: root, or rootless the
    // caller's own ids (docs/design.md, "Rootless").
    uid: rootless ? process.getuid!() : 0,
    gid: rootless ? process.getgid!() : 0,
    groups: rootless ? process.getgroups!() : [],
    umask: process.umask(),
    hostname: (flags.hostname as string | undefined) ?? os.hostname(),
    // Root in the sandbox has the caller's capabilities, as the same command
    // run natively: its user namespace owns none of the sandbox's other
    // namespaces, so they reach nothing outside (docs/design.md, "Threat model").
    caps: rootCapabilities(callerCapabilities()),
    noNewPrivs: true,
    rlimits: flags['open-files'] === undefined ? [] : [[RLIMIT_NOFILE, openFiles(flags['open-files'] as string), openFiles(flags['open-files'] as string)]],
    overlaySize: limits.overlaySize,
    overlayInodes: limits.overlayInodes,
    mounts: [
      { destination: '/proc', type: 'proc' },
      { destination: '/dev', type: 'dev' },
      { destination: '/dev/pts', type: 'devpts' },
      { destination: '/dev/shm', type: 'tmpfs', mode: 0o1777, size: limits.shmSize },
      { destination: '/sys', type: 'sysfs', readonly: true },
      ...(test?.mounts ?? []),
    ],
    stdio: [0, 1, 2],
    foreground: tty.isatty(0) && isForeground(),
    init: (flags.init as boolean | undefined) ?? true,
    strace: Boolean(globals.strace) && !observer?.traces,
    ...(globals['strace-syscalls'] === undefined ? {} : { straceSyscalls: globals['strace-syscalls'] as string }),
    ...(test ? { access: test.access, hidden: test.hidden ?? [], ...(test.testChannel ? { testChannel: test.testChannel } : {}), ...(test.loopback === false ? { loopback: false } : {}) } : {}),
  };
  // Start the Gofer before loading the Sentry, so the two boot at the same time.
  const gofer = spawnGofer(goferExports(spec));
  const [{ Kernel }, { createLogger }] = await Promise.all([import('../../sentry/kernel.js'), import('../../log.js')]);
  const debugLog = globals['debug-log'] as string | undefined;
  const log = createLogger({
    file: (globals.log as string | undefined) ?? debugLog,
    format: (globals['log-format'] as 'text' | 'json' | undefined) ?? 'text',
    debug: Boolean(globals.debug) || debugLog !== undefined,
    strace: spec.strace || Boolean(observer?.traces),
  });

  const kernel = new Kernel(spec, log);
  // The process's listeners go with the sandbox: a program running
  // sandboxes one after another (runSandboxed) keeps none of them.
  const listeners: [NodeJS.Signals | 'uncaughtException', (e: Error) => void][] = [];
  const listen = (event: NodeJS.Signals | 'uncaughtException', fn: (e: Error) => void) => {
    process.on(event as 'uncaughtException', fn);
    listeners.push([event, fn]);
  };
  listen('uncaughtException', (e) => {
    log.fatal({ err: e }, 'sentry failure');
    kernel.kill();
    fs.writeSync(2, `tsvisor: internal error, the sandbox was stopped: ${e.message}\n`);
    process.exit(125);
  });
  for (const sig of TERMINATING) listen(sig, () => kernel.onTerminatingSignal(os.constants.signals[sig]));
  kernel.catchTerminatingSignals(TERMINATING.map((sig) => os.constants.signals[sig]), GRACE_MS);
  for (const sig of FORWARDED) {
    // Once the guest is gone, stop listening: a storm of these signals
    // (ignored by default) would otherwise keep the event loop reading them
    // before it sees the exit, delaying tsvisor's own exit indefinitely.
    const forward = () => {
      if (!kernel.signal(os.constants.signals[sig])) process.removeListener(sig, forward);
    };
    listen(sig, forward);
  }
  try {
    return await runKernel(kernel, gofer, limits, log, observer, test);
  } finally {
    for (const [event, fn] of listeners) process.removeListener(event as 'uncaughtException', fn);
  }
}

/** Starts the sandbox and waits for its end; tsvisor's exit status. */
async function runKernel(kernel: Kernel, gofer: ReturnType<typeof spawnGofer>, limits: GuestLimits, log: Logger, observer?: Observer, test?: TestSandbox): Promise<number> {
  const [{ SandboxError, StartAborted }, { GuestCgroup }] = await Promise.all([import('../../sentry/kernel.js'), import('../../sentry/guest-cgroup.js')]);
  const spec = kernel.spec;
  const { cgroup, warnings, nproc } = GuestCgroup.create(limits);
  for (const w of warnings) fs.writeSync(2, `tsvisor: warning: ${w}\n`);
  if (nproc) spec.rlimits.push([RLIMIT_NPROC, ...processLimit(nproc)]);
  spec.events = observer;
  let afterRunFailure: unknown;
  const afterRun = test?.afterRun;
  if (afterRun) {
    spec.onFinish = () => {
      try {
        afterRun(kernel);
      } catch (e) {
        afterRunFailure = e;
      }
    };
  }
  spec.onGuestProcess = (pid) => {
    if (cgroup) cgroup.join(pid).forEach((w) => log.warn(w));
    observer?.onGuestProcess(pid, log);
  };
  try {
    await kernel.start(gofer);
  } catch (e) {
    if (e instanceof StartAborted) {
      fs.writeSync(2, `tsvisor: ${e.message}\n`);
      return 128 + e.signal;
    }
    if (e instanceof SandboxError) throw new RuntimeError(e.message, 125);
    throw e;
  }
  const stop = () => kernel.kill();
  if (test?.stop?.aborted) stop();
  test?.stop?.addEventListener('abort', stop, { once: true });
  const exit = await kernel.done;
  test?.stop?.removeEventListener('abort', stop);
  const goferFailure = kernel.goferFailure;
  const oomKills = cgroup?.oomKills() ?? 0;
  try {
    await test?.onEnd?.({ exit, peakMemory: cgroup?.peakMemory() ?? null, oomKills });
  } finally {
    // Nothing of the sandbox outlives tsvisor: the Gofer, told to go, goes now.
    await kernel.endGofer();
    if (cgroup) for (const w of await cgroup.remove()) log.warn(w);
  }
  if (oomKills) fs.writeSync(2, `tsvisor: the guest reached its memory limit (--memory): ${oomKills} process${oomKills > 1 ? 'es were' : ' was'} killed\n`);
  if (afterRunFailure) throw afterRunFailure;
  if (goferFailure) {
    fs.writeSync(2, `tsvisor: the gofer died (${goferFailure}); file operations failed with EIO\n`);
    return exit.status || 125;
  }
  if (exit.status === 0 && !kernel.commandStarted) throw new RuntimeError('the sandbox ended before its command ran', 125);
  return exit.status;
}

/** --memory, --pids, --overlay-size, --overlay-inodes, --shm-size, with the defaults. */
function guestLimits(flags: Record<string, unknown>): GuestLimits {
  const size = (name: string, dflt: number): number => {
    const v = flags[name] as string | undefined;
    if (v === undefined) return dflt;
    const n = parseSize(v);
    if (n === null) throw new UsageError(`--${name} ${v}: expected a size such as 512m or 2g`);
    return n;
  };
  const count = (name: string, dflt: number): number => {
    const v = flags[name] as string | undefined;
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v)) throw new UsageError(`--${name} ${v}: expected a number`);
    return Number(v);
  };
  const overlaySize = size('overlay-size', DEFAULT_LIMITS.overlaySize);
  const shmSize = size('shm-size', DEFAULT_LIMITS.shmSize);
  if (!overlaySize || !shmSize) throw new UsageError('--overlay-size and --shm-size must not be 0');
  const overlayInodes = count('overlay-inodes', DEFAULT_LIMITS.overlayInodes);
  if (overlayInodes < 2) throw new UsageError('--overlay-inodes must be at least 2');
  return { memory: size('memory', DEFAULT_LIMITS.memory), pids: count('pids', DEFAULT_LIMITS.pids), overlaySize, overlayInodes, shmSize };
}

/** RLIMIT_NPROC standing in for --pids `n`: n, or the caller's hard limit if lower (raising it needs a privilege). */
function processLimit(n: number): [number, number] {
  const r = native.getRlimit(RLIMIT_NPROC);
  const hard = typeof r === 'number' ? -1 : r[1];
  const v = hard >= 0 && hard < n ? hard : n;
  return [v, v];
}

function openFiles(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--open-files ${v}: expected a positive number`);
  return Number(v);
}

/** The caller's environment, with what bin/tsvisor set aside from tsvisor's own Node processes restored. */
function guestEnvironment(): string[] {
  const prefix = 'TSVISOR_GUEST_';
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith(prefix) && k !== CALLER_NOFILE_ENV) env[k] = v;
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith(prefix)) env[k.slice(prefix.length)] = v;
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/**
 * The capabilities the sandbox's root holds: the caller's own effective set,
 * as the same program run natively by the caller would hold. Where the
 * host's root lacks one (CAP_SYS_RESOURCE inside a container), a guest told
 * it held it would try what then fails (LTP lowering its oom_score_adj).
 */
function callerCapabilities(): number[] {
  const status = fs.readFileSync('/proc/self/status', 'latin1');
  const eff = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`);
  return Array.from({ length: 64 }, (_, i) => i).filter((i) => (eff >> BigInt(i)) & 1n);
}

/** Whether tsvisor runs in the terminal's foreground process group. */
function isForeground(): boolean {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[2]) === Number(f[5]); // pgrp === tpgid
  } catch {
    return false;
  }
}
