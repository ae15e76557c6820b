// tsvisor start ID: lets a created container run its process.
import { request } from '../../oci/control.js';
import { RuntimeError, runHooks, stateRoot } from '../../oci/runtime.js';
import { loadConfig } from '../../oci/spec.js';
import { StateStore, ociState, status } from '../../oci/state.js';
import { type Command } from '../main.js';
import { parseFlags, wrongArguments } from '../flags.js';

export const startCommand: Command = {
  summary: 'start a created container',
  usage: 'start ID',
  async run(globals, argv) {
    const { rest } = parseFlags(argv, [], false);
    if (rest.length !== 1) throw wrongArguments();
    await startContainer(new StateStore(stateRoot(globals)), rest[0]!);
    return 0;
  },
};

/** Lets created container `id` run: the start request to its sandbox process, then (as runc, from this process) the poststart hooks. */
export async function startContainer(store: StateStore, id: string): Promise<void> {
  const state = store.load(id);
  const st = status(state);
  if (st !== 'created') throw new RuntimeError(`cannot start a container that is ${st}`);
  const reply = await request(state.controlSocket, { op: 'start' });
  if (!reply.ok) throw new RuntimeError(reply.error);
  runHooks('poststart', loadConfig(state.bundle).hooks.poststart, ociState(store.load(id)));
}
