// tsvisor pause ID: freezes the container's processes (runc pause). Only
// guest processes are in the freezer cgroup, so the Sentry keeps answering
// kill, ps and exec's bookkeeping, and `resume` thaws them.
import { freezeContainer } from '../../oci/freezer.js';
import { stateRoot } from '../../oci/runtime.js';
import { StateStore } from '../../oci/state.js';
import { type Command } from '../main.js';
import { parseFlags, wrongArguments } from '../flags.js';

export const pauseCommand: Command = {
  summary: 'suspend the processes of a container',
  usage: 'pause ID',
  async run(globals, argv) {
    const { rest } = parseFlags(argv, [], false);
    if (rest.length !== 1) throw wrongArguments();
    await freezeContainer(new StateStore(stateRoot(globals)), rest[0]!);
    return 0;
  },
};
