// tsvisor: the command-line entry point. Global flags come before the
// command, as with runsc and runc.
import fs from 'node:fs';
import { type FlagSpec, type FlagValues, UsageError, parseFlags, usage } from './flags.js';

export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: 'root', type: 'string', help: 'directory for container state' },
  { name: 'log', type: 'string', help: 'file to write logs to (default: stderr)' },
  { name: 'log-format', type: 'string', choices: ['text', 'json'], help: 'log format' },
  { name: 'debug', type: 'bool', help: 'log at debug level' },
  { name: 'debug-log', type: 'string', help: 'file for debug logs (implies --debug)' },
  { name: 'strace', type: 'bool', help: 'log every call the Sentry handles, with arguments and results' },
  { name: 'platform', type: 'string', choices: ['seccomp', 'ptrace'], help: 'how guest system calls are intercepted' },
  { name: 'network', type: 'string', choices: ['none', 'host', 'sandbox'], help: 'network: none (loopback only), host, sandbox' },
  { name: 'overlay', type: 'bool', help: 'keep writes to the root file system in memory' },
  { name: 'rootless', type: 'bool', help: 'run without root on the host' },
  { name: 'systemd-cgroup', type: 'bool', help: 'use systemd to manage cgroups' },
];

export interface Command {
  summary: string;
  run(globals: FlagValues, args: string[]): Promise<number>;
}

async function loadCommand(name: string): Promise<Command | undefined> {
  switch (name) {
    case 'do':
      return (await import('./commands/do.js')).doCommand;
    case 'syscalls':
      return (await import('./commands/syscalls.js')).syscallsCommand;
    default:
      return undefined;
  }
}

const COMMANDS = ['do', 'syscalls'];

function help(): string {
  return [
    'usage: tsvisor [global flags] COMMAND [flags] [args]',
    '',
    'commands:',
    '  do        run a command in a sandbox on the host root (or --root DIR)',
    '  syscalls  print the syscall table (--format table|json|markdown)',
    '',
    'global flags:',
    usage(GLOBAL_FLAGS),
    '',
  ].join('\n');
}

export function fatal(msg: string, code = 125): never {
  fs.writeSync(2, `tsvisor: ${msg}\n`);
  process.exit(code);
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv, GLOBAL_FLAGS, true);
  } catch (e) {
    if (e instanceof UsageError) fatal(`${e.message}\n${help()}`, 2);
    throw e;
  }
  const [name, ...args] = parsed.rest;
  if (!name || name === 'help' || parsed.flags.help) {
    fs.writeSync(1, help());
    return name ? 0 : 2;
  }
  const cmd = await loadCommand(name);
  if (!cmd) fatal(`unknown command "${name}" (commands: ${COMMANDS.join(', ')})`, 2);
  try {
    return await cmd.run(parsed.flags, args);
  } catch (e) {
    if (e instanceof UsageError) fatal(e.message, 2);
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => fatal(e instanceof Error ? (e.stack ?? e.message) : String(e)),
);
