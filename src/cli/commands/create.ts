// tsvisor create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ID:
// sets the container up; its process waits for `start`.
import { createContainer } from '../../oci/container.js';
import { type Command } from '../main.js';
import { type FlagSpec, UsageError, parseFlags } from '../flags.js';

export const CREATE_FLAGS: readonly FlagSpec[] = [
  { name: 'bundle', alias: ['b'], type: 'string', help: 'bundle directory (default: the current one)' },
  { name: 'pid-file', type: 'string', help: 'file to write the container process id to' },
  { name: 'console-socket', type: 'string', help: 'unix socket to send the terminal master to' },
  { name: 'no-pivot', type: 'bool', help: 'accepted for runc compatibility' },
  { name: 'no-new-keyring', type: 'bool', help: 'accepted for runc compatibility' },
  { name: 'preserve-fds', type: 'string', help: 'accepted for runc compatibility (must be 0)' },
];

export const createCommand: Command = {
  summary: 'create a container',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(argv, CREATE_FLAGS, false);
    if (rest.length !== 1) throw new UsageError('usage: tsvisor create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ID');
    if (flags['preserve-fds'] !== undefined && flags['preserve-fds'] !== '0') throw new UsageError('--preserve-fds is not supported');
    await createContainer(globals, rest[0]!, {
      bundle: (flags.bundle as string | undefined) ?? process.cwd(),
      pidFile: flags['pid-file'] as string | undefined,
      consoleSocket: flags['console-socket'] as string | undefined,
      detach: true,
    });
    return 0;
  },
};
