// tsvisor: the command-line entry point. Global flags come before the
// command, as with runsc and runc.
import '../no-inspector.js';
import fs from 'node:fs';
import path from 'node:path';
import type { StartedGofer } from '../gofer/client.js';
import { type FlagSpec, type FlagValues, HelpRequested, UsageError, parseFlags, usage } from './flags.js';

export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: 'root', type: 'string', help: 'directory for container state' },
  { name: 'log', type: 'string', help: 'file to write logs to (default: stderr)' },
  { name: 'log-format', type: 'string', choices: ['text', 'json'], help: 'log format' },
  { name: 'debug', type: 'bool', help: 'log at debug level' },
  { name: 'debug-log', type: 'string', help: "file for debug logs (implies --debug); ending in '/', a directory to make one file in per command; %TIMESTAMP% and %COMMAND% are replaced" },
  { name: 'strace', type: 'bool', help: 'log every call the Sentry handles, with arguments and results (tsvisor coverage --strace: every call)' },
  { name: 'strace-syscalls', type: 'string', help: 'with --strace: only these calls, comma-separated names (e.g. openat,read,close)' },
  { name: 'coverage-dir', type: 'string', help: "containers: write each container's syscall coverage report to DIR/ID.json when it ends (needs root for eBPF; see tsvisor coverage)" },
  { name: 'platform', type: 'string', choices: ['seccomp', 'ptrace'], help: 'how guest system calls are intercepted: seccomp (ptrace is refused, see docs)' },
  { name: 'network', type: 'string', choices: ['none', 'host', 'sandbox'], help: "network: sandbox (the spec's namespace, the default), none (loopback only), host" },
  { name: 'overlay', type: 'bool', help: 'keep writes to the root file system in memory' },
  { name: 'kernel-release', type: 'string', help: "the kernel release the sandbox reports (default: the host's major.minor, as M.m.0-tsvisor)" },
  { name: 'rootless', type: 'bool', help: 'accepted for runsc compatibility; the OCI commands need root all the same (tsvisor do runs without root)' },
  { name: 'systemd-cgroup', type: 'bool', help: 'use systemd to manage cgroups (not implemented: create refuses it)' },
  { name: 'version', alias: ['v'], type: 'bool', help: 'print the version and the OCI spec version' },
];

/** What main() started for a command before loading it (the sandbox process's Gofer). */
export interface Prestarted {
  gofer?: StartedGofer;
}

export interface Command {
  summary: string;
  /** The arguments after `tsvisor [global flags]`, as in "start ID". */
  usage: string;
  run(globals: FlagValues, args: string[], prestarted: Prestarted): Promise<number>;
}

async function loadCommand(name: string): Promise<Command | undefined> {
  switch (name) {
    case 'do':
      return (await import('./commands/do.js')).doCommand;
    case 'test':
      return (await import('./commands/test.js')).testCommand;
    case 'coverage':
      return (await import('./commands/coverage.js')).coverageCommand;
    case 'coverage diff':
      return (await import('./commands/coverage-diff.js')).coverageDiffCommand;
    case 'syscalls':
      return (await import('./commands/syscalls.js')).syscallsCommand;
    case 'create':
      return (await import('./commands/create.js')).createCommand;
    case 'start':
      return (await import('./commands/start.js')).startCommand;
    case 'run':
      return (await import('./commands/run.js')).runCommand;
    case 'state':
      return (await import('./commands/state.js')).stateCommand;
    case 'exec':
      return (await import('./commands/exec.js')).execCommand;
    case 'kill':
      return (await import('./commands/kill.js')).killCommand;
    case 'delete':
      return (await import('./commands/delete.js')).deleteCommand;
    case 'list':
      return (await import('./commands/list.js')).listCommand;
    case 'ps':
      return (await import('./commands/ps.js')).psCommand;
    case 'pause':
      return (await import('./commands/pause.js')).pauseCommand;
    case 'resume':
      return (await import('./commands/resume.js')).resumeCommand;
    case 'update':
      return (await import('./commands/update.js')).updateCommand;
    case 'events':
      return (await import('./commands/events.js')).eventsCommand;
    case 'wait':
      return (await import('./commands/wait.js')).waitCommand;
    case 'spec':
      return (await import('./commands/spec.js')).specCommand;
    case 'features':
      return (await import('./commands/features.js')).featuresCommand;
    case 'checkpoint':
      return (await import('./commands/checkpoint.js')).checkpointCommand;
    case 'restore':
      return (await import('./commands/checkpoint.js')).restoreCommand;
    case 'boot':
      return (await import('./commands/boot.js')).bootCommand;
    default:
      return undefined;
  }
}

const COMMANDS = ['do', 'test', 'coverage', 'syscalls', 'create', 'start', 'run', 'exec', 'state', 'kill', 'delete', 'list', 'ps', 'pause', 'resume', 'update', 'events', 'wait', 'spec', 'features', 'checkpoint', 'restore'];

function help(): string {
  return [
    'usage: tsvisor [global flags] COMMAND [flags] [args]   (tsvisor COMMAND --help: its flags)',
    '',
    'commands:',
    '  do          run a command in a sandbox on the host root (or --root DIR; do --help: its flags)',
    '  test        run a test suite contained (host read-only, writes in memory, secrets hidden) and report what it touched (test --help)',
    '  coverage    run a command as do does and report every system call it made (--json FILE)',
    '  coverage diff OLD.json NEW.json   compare two reports; status 1 if the new run needs what gVisor or tsvisor lacks',
    '  syscalls    print the syscall table (--format table|json|markdown)',
    '',
    'OCI runtime commands (as runc and runsc):',
    '  create      create a container from a bundle (--bundle, --pid-file)',
    '  start       start a created container',
    '  run         create and start a container, wait for it unless --detach',
    '  exec        run another process in a running container (--process, --detach)',
    '  state       print a container\'s OCI state',
    '  kill        send a signal to a container (--all)',
    '  delete      delete a stopped container (--force: any container)',
    '  list        list containers (--format table|json, --quiet)',
    '  ps          list a container\'s processes (--format table|json)',
    '  pause       freeze a container\'s processes',
    '  resume      thaw a paused container',
    '  update      change a container\'s cgroup limits (--resources FILE|-, --memory, --pids-limit, ...)',
    '  events      print a container\'s resource usage (--stats: once; --interval D)',
    '  wait        wait for a container to exit and print its exit status',
    '  spec        write a default config.json (--bundle, --rootless)',
    '  features    print the supported features',
    '  checkpoint, restore   not supported',
    '',
    'global flags:',
    usage(GLOBAL_FLAGS),
    '',
  ].join('\n');
}

/** Errors of the OCI commands that are the caller's or the container's, not tsvisor bugs. */
async function isRuntimeError(e: unknown): Promise<boolean> {
  const [{ RuntimeError }, { SpecError }, { StateError }, { ControlUnreachable }] = await Promise.all([
    import('../oci/runtime.js'),
    import('../oci/spec.js'),
    import('../oci/state.js'),
    import('../oci/control.js'),
  ]);
  return e instanceof RuntimeError || e instanceof SpecError || e instanceof StateError || e instanceof ControlUnreachable;
}

/** The newest OCI runtime spec version tsvisor implements (features: ociVersionMax). */
const OCI_SPEC_VERSION = '1.1.0';

/** package.json's version. */
export async function version(): Promise<string> {
  const { PROJECT_ROOT } = await import('../paths.js');
  try {
    return (JSON.parse(fs.readFileSync(`${PROJECT_ROOT}/package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Commands whose process runs a sandbox. */
const SANDBOX_COMMANDS = new Set(['do', 'test', 'coverage', 'boot', 'run']);

/** Commands that run a sandbox without root too (docs/design.md, "Rootless"). */
const ROOTLESS_COMMANDS = new Set(['do', 'test']);

/** What a sandbox needs before anything is set up; throws a RuntimeError (status 1, as runsc) saying what is missing. */
async function canRunSandbox(globals: FlagValues, name: string): Promise<void> {
  const { RuntimeError } = await import('../oci/runtime.js');
  if (globals.platform === 'ptrace') {
    throw new RuntimeError('--platform=ptrace is not supported: tsvisor intercepts system calls with seccomp user notification (Linux 5.9 or later); see docs/design.md');
  }
  if (process.geteuid?.() === 0 || ROOTLESS_COMMANDS.has(name)) return;
  if (name === 'coverage') {
    throw new RuntimeError('tsvisor coverage needs root: it counts system calls with eBPF (tsvisor do runs without root)');
  }
  throw new RuntimeError('the OCI commands (create, run) need root: tsvisor maps a range of user ids for a container (--rootless does not change that); tsvisor do runs without root');
}

/** A command's --help: its usage line, what it does and its flags. */
function commandHelp(cmd: Command, specs: readonly FlagSpec[]): string {
  return `usage: tsvisor [global flags] ${cmd.usage}\n\n${cmd.summary}\n\n${specs.length ? `flags:\n${usage(specs)}` : 'no flags'}\n`;
}

/** The one-line message of a usage error, with what helps: a global flag's place, the command's usage. */
function usageMessage(e: UsageError, name: string, cmd: Command): string {
  const global = e.flag === undefined ? undefined : GLOBAL_FLAGS.find((f) => f.name === e.flag || f.alias?.includes(e.flag!));
  const hint = global ? `\n--${global.name} is a global flag: put it before the command (tsvisor --${global.name} ${name} ...)` : '';
  return `${e.message}${hint}\nusage: tsvisor [global flags] ${cmd.usage}   (tsvisor ${name} --help: its flags)`;
}

/**
 * --log and --debug-log name a file to append to. As runsc's, a name ending
 * in '/' is a directory (made if missing) that gets a file of its own for
 * each command; %TIMESTAMP% and %COMMAND% in the name are replaced. A file
 * that cannot be opened is the user's mistake, said before anything starts.
 */
function resolveLogFiles(globals: FlagValues, command: string): void {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  for (const flag of ['log', 'debug-log']) {
    const given = globals[flag] as string | undefined;
    if (given === undefined) continue;
    let file = given.replaceAll('%TIMESTAMP%', stamp).replaceAll('%COMMAND%', command);
    try {
      if (file.endsWith('/')) {
        fs.mkdirSync(file, { recursive: true });
        file = path.join(file, `tsvisor.log.${stamp}.${process.pid}.${command}.txt`);
      }
      fs.closeSync(fs.openSync(file, 'a'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'its directory does not exist' : code === 'EISDIR' ? "a directory (end it with '/' for a file per command in it)" : (e as Error).message;
      throw new UsageError(`--${flag} ${given}: cannot write there: ${why}`);
    }
    globals[flag] = file;
  }
}

/** --strace-syscalls: a usage error unless every name is a system call's. */
export async function checkSyscallNames(names: string): Promise<Set<number>> {
  const { parseSyscallFilter } = await import('../sentry/strace.js');
  try {
    return parseSyscallFilter(names);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function fatal(msg: string, code = 125): never {
  fs.writeSync(2, `tsvisor: ${msg}\n`);
  process.exit(code);
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv, GLOBAL_FLAGS, true);
  } catch (e) {
    if (e instanceof HelpRequested) {
      fs.writeSync(1, help());
      return 0;
    }
    if (e instanceof UsageError) fatal(`${e.message}\n${help()}`, 2);
    throw e;
  }
  const [name, ...args] = parsed.rest;
  // podman info runs `RUNTIME --version` and shows its output (runc and runsc answer the same way).
  if (parsed.flags.version) {
    fs.writeSync(1, `tsvisor version ${await version()}\nspec: ${OCI_SPEC_VERSION}\n`);
    return 0;
  }
  if (!name) fatal(`a command is needed\n${help()}`, 2);
  // `tsvisor help` and `tsvisor help COMMAND`, as `tsvisor COMMAND --help`.
  const helpOnly = name === 'help';
  const cmdName = helpOnly ? args[0] : name;
  if (cmdName === undefined) {
    fs.writeSync(1, help());
    return 0;
  }
  // A sandbox process (boot, and run, which is one unless detached) starts its
  // Gofer first of all: Node's start-up of the Gofer then overlaps with loading
  // the command and the Sentry (docs/design.md, "Start-up"); a command line
  // that turns out to ask for help or to be wrong stops it again.
  const prestarted: Prestarted = name === 'boot' || name === 'run' ? { gofer: (await import('../gofer/client.js')).startGofer() } : {};
  // `coverage diff` is a command of its own, which runs no sandbox.
  const diff = cmdName === 'coverage' && args[helpOnly ? 1 : 0] === 'diff';
  if (diff && !helpOnly) args.shift();
  const cmd = await loadCommand(diff ? 'coverage diff' : cmdName);
  if (!cmd) fatal(`unknown command "${cmdName}" (commands: ${COMMANDS.join(', ')})`, 2);
  try {
    // Every command parses its flags before it does anything: asked for help, it throws HelpRequested.
    if (helpOnly) await cmd.run(parsed.flags, ['--help'], {});
    if (name === 'do' && parsed.flags.root !== undefined) {
      throw new UsageError(`--root before "do" names the OCI state directory, which do does not use; the sandbox's root directory goes after it: tsvisor do --root ${parsed.flags.root} -- COMMAND`);
    }
    if ((name === 'do' || name === 'test' || name === 'coverage') && parsed.flags['coverage-dir'] !== undefined) {
      throw new UsageError(`--coverage-dir is for containers (create, run); a command's report: tsvisor coverage --json FILE -- COMMAND`);
    }
    resolveLogFiles(parsed.flags, name);
    const straceNames = parsed.flags['strace-syscalls'] as string | undefined;
    if (straceNames !== undefined) await checkSyscallNames(straceNames);
    if (SANDBOX_COMMANDS.has(name) && !diff) {
      await canRunSandbox(parsed.flags, name);
      const release = parsed.flags['kernel-release'] as string | undefined;
      if (release !== undefined) {
        if (!/^[\x21-\x7e]{1,64}$/.test(release)) throw new UsageError(`--kernel-release ${JSON.stringify(release)}: 1 to 64 printable characters, no spaces`);
        (await import('../sentry/syscalls/uts.js')).setKernelRelease(release);
      }
    }
    return await cmd.run(parsed.flags, args, prestarted);
  } catch (e) {
    const { reportError } = await import('../oci/runtime.js');
    if (e instanceof HelpRequested || e instanceof UsageError) prestarted.gofer?.kill();
    if (e instanceof HelpRequested) {
      fs.writeSync(1, commandHelp(cmd, e.specs));
      return 0;
    }
    // `boot` is what bin/tsvisor runs for `create`.
    if (e instanceof UsageError) return reportError(parsed.flags, usageMessage(e, cmdName === 'boot' ? 'create' : diff ? 'coverage diff' : cmdName, cmd), 2);
    if (await isRuntimeError(e)) {
      return reportError(parsed.flags, (e as Error).message, (e as { exitStatus?: number }).exitStatus);
    }
    // A file the user named that cannot be read or written (fs's errors carry the call and the path): their message, not a stack.
    if (e instanceof Error && typeof (e as NodeJS.ErrnoException).syscall === 'string' && typeof (e as NodeJS.ErrnoException).code === 'string') {
      return reportError(parsed.flags, e.message);
    }
    throw e;
  }
}
