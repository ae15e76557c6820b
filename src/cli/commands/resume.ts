// tsvisor resume ID: thaws a paused container (runc resume).
import { containerCgroups } from '../../oci/cgroups.js';
import { RuntimeError, stateRoot } from '../../oci/runtime.js';
import { StateStore, status } from '../../oci/state.js';
import { type Command } from '../main.js';
import { parseFlags, wrongArguments } from '../flags.js';

/** Thaws container `id` if it is paused; false if it is not. */
export function thawContainer(store: StateStore, id: string): boolean {
  const lock = store.lock(id);
  try {
    const state = store.load(id);
    if (status(state) !== 'paused') return false;
    containerCgroups(state).thaw();
    delete state.paused;
    store.save(state);
    return true;
  } finally {
    lock.release();
  }
}

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
