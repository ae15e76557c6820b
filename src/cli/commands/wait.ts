// tsvisor wait ID: waits until the container's init exits and prints
// {"id":ID,"exitStatus":N} (runsc wait; N is the code, or 128 + the signal
// that killed it). A container that has already stopped answers at once.
import fs from 'node:fs';
import { RuntimeError, stateRoot } from '../../oci/runtime.js';
import { StateStore, status } from '../../oci/state.js';
import { type Command } from '../main.js';
import { UsageError, parseFlags, wrongArguments } from '../flags.js';

/** How often the state is looked at: the sandbox process records the exit status there as it ends. */
const POLL_MS = 100;

export const waitCommand: Command = {
  summary: "wait for a container's init to exit and print its status",
  usage: 'wait ID',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(
      argv,
      [
        { name: 'pid', type: 'string', help: 'not supported: wait for another process' },
        { name: 'rootpid', type: 'string', help: 'not supported: wait for another process' },
      ],
      false,
    );
    if (rest.length !== 1) throw wrongArguments();
    // runsc's -1 means "the container's init".
    for (const f of ['pid', 'rootpid']) if (flags[f] !== undefined && flags[f] !== '-1') throw new UsageError(`wait --${f}: tsvisor waits for the container's init only`);
    const id = rest[0]!;
    const store = new StateStore(stateRoot(globals));
    for (;;) {
      const state = store.load(id);
      if (status(state) === 'stopped') {
        if (state.exitStatus === undefined) throw new RuntimeError(`waiting on container ${JSON.stringify(id)}: its sandbox is no longer running and its exit status is unavailable`);
        fs.writeSync(1, `${JSON.stringify({ id, exitStatus: state.exitStatus })}\n`);
        return 0;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  },
};
