// tsvisor boot (internal): `create` as the sandbox process itself, which
// outlives the command. It records the container, sets it up
// (src/oci/sandbox.ts), has its keeper make the anchor (--anchor-fd,
// native/anchor.c), runs the hooks runc runs before start, writes the
// anchor's pid to the pid file, then says "ok" (or "error MESSAGE", after
// reporting the error as every command does) on --ready-fd and serves the
// container until its init exits. Its exit status is the container's: the
// keeper hands it to the anchor, the process in --pid-file, which
// containerd's shim and conmon wait for.
//
// bin/tsvisor runs `create` as this command directly, under its keeper in a
// new session, and waits for its word (one Node process fewer on every
// container's start); `tsvisor create` run any other way starts it so
// (createContainer).
import fs from 'node:fs';
import { finishCreate, registerContainer, unregisterContainer } from '../../oci/container.js';
import { reportError } from '../../oci/runtime.js';
import { type Sandbox, StartupSignals, forwardSignals, startSandbox } from '../../oci/sandbox.js';
import { native } from '../../platform/native.js';
import { type Command } from '../main.js';
import { type FlagSpec, HelpRequested, UsageError, parseFlags, wrongArguments } from '../flags.js';
import { CREATE_FLAGS, createCommand } from './create.js';

const BOOT_FLAGS: readonly FlagSpec[] = [
  ...CREATE_FLAGS,
  { name: 'ready-fd', type: 'string', help: 'fd to say "ok" or "error MESSAGE" on' },
  { name: 'anchor-fd', type: 'string', help: "the control socket of this process's anchor keeper (native/anchor.c)" },
];

export const bootCommand: Command = {
  // What `tsvisor create` is, as bin/tsvisor runs it: its --help is create's.
  summary: createCommand.summary,
  usage: 'create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ID',
  async run(globals, argv, prestarted) {
    // bin/tsvisor waits on fd 3 unless told otherwise, even for a flag it could not parse.
    let readyFd = 3;
    const say = (msg: string) => {
      try {
        fs.writeSync(readyFd, `${msg}\n`);
        fs.closeSync(readyFd);
      } catch {
        /* the caller went away */
      }
    };
    const signals = new StartupSignals();
    let sandbox: Sandbox | undefined;
    let registered;
    try {
      const { flags, rest } = parseFlags(argv, BOOT_FLAGS, false);
      readyFd = Number((flags['ready-fd'] as string | undefined) ?? 3);
      if (rest.length !== 1 || !prestarted.gofer) throw wrongArguments();
      if (flags['preserve-fds'] !== undefined && flags['preserve-fds'] !== '0') throw new UsageError('--preserve-fds is not supported');
      const anchorFd = Number(flags['anchor-fd']);
      if (!Number.isInteger(anchorFd) || anchorFd < 3) throw new UsageError('boot runs under tsvisor-anchor, which gives it --anchor-fd');
      const consoleSocket = flags['console-socket'] as string | undefined;
      registered = registerContainer(globals, rest[0]!, (flags.bundle as string | undefined) ?? process.cwd(), consoleSocket);
      sandbox = await startSandbox(globals, registered.id, registered.config, { consoleSocket, gofer: prestarted.gofer, anchorFd, signals });
      await finishCreate(registered, sandbox, flags['pid-file'] as string | undefined);
      if (signals.received !== undefined) throw new Error(signals.message);
      // With a terminal the container's stdio is the pty: keeping the
      // command's own would hold pipes the caller reads to their end
      // (containerd's shim collects a runtime's output that way).
      if (registered.config.process.terminal) {
        const devNull = fs.openSync('/dev/null', 'r+');
        for (const fd of [0, 1, 2]) native.dup2(devNull, fd);
        fs.closeSync(devNull);
      }
    } catch (e) {
      // Asked for help or given a wrong command line: main says so, bin/tsvisor exits as it does.
      if (e instanceof HelpRequested) {
        say('help');
        throw new HelpRequested(CREATE_FLAGS);
      }
      if (e instanceof UsageError) {
        say('usage');
        throw e;
      }
      await sandbox?.release();
      if (registered) await unregisterContainer(registered);
      const msg = signals.received !== undefined ? signals.message : e instanceof Error ? e.message : String(e);
      reportError(globals, msg, 1);
      say(`error ${msg}`);
      return 1;
    }
    // Signals the keeper passes on (from the anchor, the pid clients know) go to init.
    signals.stop();
    forwardSignals(sandbox.kernel);
    say('ok');
    return sandbox.exited;
  },
};
