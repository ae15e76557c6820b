// tsvisor state ID: the OCI state of a container, as JSON.
import fs from 'node:fs';
import { stateRoot } from '../../oci/runtime.js';
import { StateStore, ociState } from '../../oci/state.js';
import { type Command } from '../main.js';
import { parseFlags, wrongArguments } from '../flags.js';

export const stateCommand: Command = {
  summary: 'print the state of a container',
  usage: 'state ID',
  async run(globals, argv) {
    const { rest } = parseFlags(argv, [], false);
    if (rest.length !== 1) throw wrongArguments();
    const state = new StateStore(stateRoot(globals)).load(rest[0]!);
    fs.writeSync(1, `${JSON.stringify(ociState(state), null, 2)}\n`);
    return 0;
  },
};
