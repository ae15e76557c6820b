// tsvisor pause ID: freezes the container's processes (runc pause). Only
// guest processes are in the freezer cgroup, so the Sentry keeps answering
// kill, ps and exec's bookkeeping, and `resume` thaws them.
import { containerCgroups } from '../../oci/cgroups.js';
import { RuntimeError, stateRoot } from '../../oci/runtime.js';
import { StateStore, status } from '../../oci/state.js';
import { type Command } from '../main.js';
import { parseFlags, wrongArguments } from '../flags.js';

export const pauseCommand: Command = {
  summary: 'suspend the processes of a container',
  usage: 'pause ID',
  async run(globals, argv) {
    const { rest } = parseFlags(argv, [], false);
    if (rest.length !== 1) throw wrongArguments();
    const store = new StateStore(stateRoot(globals));
    const lock = store.lock(rest[0]!);
    try {
      const state = store.load(rest[0]!);
      // runc pauses created containers too.
      const st = status(state);
      if (st !== 'running' && st !== 'created') throw new RuntimeError('container not running');
      await containerCgroups(state).freeze();
      state.paused = true;
      store.save(state);
    } finally {
      lock.release();
    }
    return 0;
  },
};
