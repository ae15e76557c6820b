// tsvisor resume ID: thaws a paused container (runc resume).
import { thawContainer } from '../../oci/freezer.js';
import { RuntimeError, stateRoot } from '../../oci/runtime.js';
import { StateStore } from '../../oci/state.js';
import { type Command } from '../main.js';
import { parseFlags, wrongArguments } from '../flags.js';

export const resumeCommand: Command = {
  summary: 'resume the processes of a paused container',
  usage: 'resume ID',
  async run(globals, argv) {
    const { rest } = parseFlags(argv, [], false);
    if (rest.length !== 1) throw wrongArguments();
    if (!thawContainer(new StateStore(stateRoot(globals)), rest[0]!)) throw new RuntimeError('container not paused');
    return 0;
  },
};
