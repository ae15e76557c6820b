// tsvisor kill [--all] ID [SIGNAL]: signals the container's init (or, with
// --all, every process in it). SIGNAL is a number or a name; default SIGTERM.
import { SIGKILL } from '../../abi/linux.js';
import { ControlUnreachable, request } from '../../oci/control.js';
import { thawContainer } from '../../oci/freezer.js';
import { RuntimeError, signalNumber, stateRoot } from '../../oci/runtime.js';
import { StateStore, status } from '../../oci/state.js';
import { type Command } from '../main.js';
import { parseFlags, wrongArguments } from '../flags.js';

export const killCommand: Command = {
  summary: 'send a signal to a container',
  usage: 'kill [--all] ID [SIGNAL]',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(argv, [{ name: 'all', alias: ['a'], type: 'bool', help: 'signal every process of the container' }], false);
    if (rest.length < 1 || rest.length > 2) throw wrongArguments();
    const sig = signalNumber(rest[1] ?? 'SIGTERM');
    const state = new StateStore(stateRoot(globals)).load(rest[0]!);
    const st = status(state);
    if (st === 'stopped' || st === 'creating') throw new RuntimeError('container not running');
    try {
      const reply = await request(state.controlSocket, { op: 'kill', signal: sig, all: Boolean(flags.all) });
      if (!reply.ok) throw new RuntimeError(reply.error);
    } catch (e) {
      if (e instanceof ControlUnreachable) throw new RuntimeError('container not running');
      throw e;
    }
    // As runc: a frozen process dies of SIGKILL only once thawed.
    if (sig === SIGKILL && st === 'paused') thawContainer(new StateStore(stateRoot(globals)), rest[0]!);
    return 0;
  },
};
