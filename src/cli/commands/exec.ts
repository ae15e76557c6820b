// tsvisor exec [--process FILE | ID COMMAND ARGS...] [--detach] [--pid-file
// FILE] [--cwd DIR] [--env K=V] [--user UID[:GID]] ID: runs another process
// in a running container. Without --detach this command lasts as long as
// the process and exits with its status; with --detach a copy of it does,
// and --pid-file names that copy (the shim and conmon wait for it).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { converse, execProcessOf } from '../../oci/control.js';
import { RuntimeError, globalArgs, readAnswer, stateRoot } from '../../oci/runtime.js';
import { type ProcessConfig, loadConfig, parseProcess } from '../../oci/spec.js';
import { StateStore, status } from '../../oci/state.js';
import { CLI_ENTRY } from '../../paths.js';
import { type Command } from '../main.js';
import { type FlagSpec, UsageError, parseFlags, wrongArguments } from '../flags.js';

const EXEC_FLAGS: readonly FlagSpec[] = [
  { name: 'process', alias: ['p'], type: 'string', help: 'process.json describing the process' },
  { name: 'tty', alias: ['t'], type: 'bool', help: 'allocate a terminal' },
  { name: 'console-socket', type: 'string', help: 'unix socket to send the terminal master to' },
  { name: 'detach', alias: ['d'], type: 'bool', help: 'do not wait for the process' },
  { name: 'pid-file', type: 'string', help: 'file to write the process id to' },
  { name: 'cwd', type: 'string', help: 'working directory' },
  { name: 'env', alias: ['e'], type: 'list', help: 'KEY=VALUE (repeatable)' },
  { name: 'user', alias: ['u'], type: 'string', help: 'UID[:GID]' },
  { name: 'additional-gids', alias: ['g'], type: 'list', help: 'supplementary group (repeatable)' },
  { name: 'cap', alias: ['c'], type: 'list', help: 'accepted for runc compatibility' },
  { name: 'no-new-privs', type: 'bool', help: 'always on in tsvisor' },
  { name: 'preserve-fds', type: 'string', help: 'accepted for runc compatibility (must be 0)' },
  { name: 'process-label', type: 'string', help: 'ignored (no SELinux)' },
  { name: 'apparmor', type: 'string', help: 'ignored (no AppArmor)' },
  { name: 'ignore-paused', type: 'bool', help: 'accepted for runc compatibility' },
  { name: 'started-fd', type: 'string', help: 'internal: fd to report the start on' },
];

export const execCommand: Command = {
  summary: 'run a process in a running container',
  usage: 'exec [flags] ID [COMMAND ARGS...]',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(argv, EXEC_FLAGS, true);
    const id = rest[0];
    if (!id) throw wrongArguments();
    if (flags['preserve-fds'] !== undefined && flags['preserve-fds'] !== '0') throw new UsageError('--preserve-fds is not supported');
    const store = new StateStore(stateRoot(globals));
    const state = store.load(id);
    const st = status(state);
    if (st !== 'running' && st !== 'created') throw new RuntimeError(`cannot exec in a container that is ${st}`);

    let proc: ProcessConfig;
    if (flags.process) {
      let raw: unknown;
      try {
        raw = JSON.parse(fs.readFileSync(flags.process as string, 'utf8'));
      } catch (e) {
        throw new RuntimeError(`--process ${flags.process}: ${e instanceof Error ? e.message : String(e)}`);
      }
      proc = parseProcess(raw, path.basename(flags.process as string).endsWith('.json') ? path.basename(flags.process as string) : 'process.json');
    } else {
      if (rest.length < 2) throw new UsageError('exec: a command or --process is needed');
      proc = { ...loadConfig(state.bundle).process, args: rest.slice(1) };
    }
    if (flags.tty) proc.terminal = true;
    if (proc.terminal && !flags['console-socket']) throw new RuntimeError('a terminal needs --console-socket');
    for (const e of (flags.env as string[] | undefined) ?? []) {
      if (!/^[^=]+=/.test(e)) throw new UsageError(`--env ${e}: expected KEY=VALUE`);
      const key = e.slice(0, e.indexOf('='));
      proc.env = [...proc.env.filter((x) => !x.startsWith(`${key}=`)), e];
    }
    if (flags.cwd) proc.cwd = flags.cwd as string;
    if (flags.user) {
      const m = /^(\d+)(?::(\d+))?$/.exec(flags.user as string);
      if (!m) throw new UsageError(`--user ${flags.user}: expected UID[:GID]`);
      proc.uid = Number(m[1]);
      proc.gid = m[2] === undefined ? 0 : Number(m[2]);
    }
    for (const g of (flags['additional-gids'] as string[] | undefined) ?? []) proc.additionalGids.push(Number(g));

    if (flags.detach) {
      // A copy without --detach runs the process; it is what --pid-file names.
      const flagArgs = argv.slice(0, argv.length - rest.length).filter((a) => !/^--?d(etach)?(=.*)?$/.test(a));
      const args = [...stripPidFile(flagArgs), '--', ...rest];
      const child = spawn(process.execPath, [CLI_ENTRY, ...globalArgs(globals), 'exec', '--started-fd', '3', ...args], {
        detached: true,
        // With a terminal the process's stdio is the pty; the caller may read this command's output to EOF.
        stdio: proc.terminal ? ['ignore', 'ignore', 'ignore', 'pipe'] : ['inherit', 'inherit', 'inherit', 'pipe'],
      });
      const answer = await readAnswer(child);
      if (answer !== 'ok') throw new RuntimeError(`exec failed: ${answer.startsWith('error ') ? answer.slice(6) : 'the process did not start'}`, EXEC_FAILED);
      if (flags['pid-file']) {
        const file = flags['pid-file'] as string;
        fs.writeFileSync(`${file}.tmp-${process.pid}`, String(child.pid));
        fs.renameSync(`${file}.tmp-${process.pid}`, file);
      }
      child.unref();
      return 0;
    }

    const startedFd = flags['started-fd'] === undefined ? -1 : Number(flags['started-fd']);
    const tell = (msg: string) => {
      if (startedFd < 0) return;
      try {
        fs.writeSync(startedFd, `${msg}\n`);
        fs.closeSync(startedFd);
      } catch {
        /* the detaching parent is gone */
      }
    };
    let last;
    try {
      last = await converse(
        state.controlSocket,
        { op: 'exec', pid: process.pid, process: execProcessOf(proc), consoleSocket: flags['console-socket'] as string | undefined },
        (r) => {
          if (r.ok && r.status === undefined) {
            if (flags['pid-file'] && startedFd < 0) fs.writeFileSync(flags['pid-file'] as string, String(process.pid));
            tell('ok');
            return false;
          }
          return true;
        },
        0,
      );
    } catch (e) {
      tell(`error ${e instanceof Error ? e.message : String(e)}`);
      throw e;
    }
    if (!last.ok) {
      tell(`error ${last.error}`);
      throw new RuntimeError(`exec failed: ${last.error}`, EXEC_FAILED);
    }
    return last.status ?? 0;
  },
};

/** runc's exit status when the process could not be started (its own status otherwise). */
const EXEC_FAILED = 255;

/** argv without --pid-file (the detached copy must not write it: the parent does, with the copy's pid). */
function stripPidFile(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--pid-file' || a === '-pid-file') {
      i++;
      continue;
    }
    if (/^--?pid-file=/.test(a)) continue;
    out.push(a);
  }
  return out;
}
