// tsvisor create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ID:
// sets the container up; its process waits for `start`. The work is done by
// the sandbox process (`tsvisor boot`, which takes these same flags): bin/tsvisor
// starts it directly, this command when run otherwise.
import { createContainer } from '../../oci/container.js';
import { type Command } from '../main.js';
import { type FlagSpec, parseFlags, wrongArguments } from '../flags.js';

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
  usage: 'create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ID',
  async run(globals, argv) {
    const { rest } = parseFlags(argv, CREATE_FLAGS, false);
    if (rest.length !== 1) throw wrongArguments();
    return createContainer(globals, argv);
  },
};
