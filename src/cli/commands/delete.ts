// tsvisor delete [--force] ID: removes a stopped container (with --force, a
// running one too, killing it first). Like runc, --force also clears what
// a crash left behind and succeeds for a container that does not exist.
import fs from 'node:fs';
import { deleteContainer } from '../../oci/container.js';
import { stateRoot } from '../../oci/runtime.js';
import { validateId } from '../../oci/state.js';
import { type Command } from '../main.js';
import { parseFlags, wrongArguments } from '../flags.js';

export const deleteCommand: Command = {
  summary: 'delete a container',
  usage: 'delete [--force] ID',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(argv, [{ name: 'force', alias: ['f'], type: 'bool', help: 'kill the container first if it runs' }], false);
    if (rest.length !== 1) throw wrongArguments();
    const id = rest[0]!;
    validateId(id);
    for (const w of await deleteContainer(stateRoot(globals), id, Boolean(flags.force))) fs.writeSync(2, `tsvisor: warning: ${w}\n`);
    return 0;
  },
};
