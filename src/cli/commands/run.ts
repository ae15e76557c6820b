// tsvisor run [--bundle DIR] [--pid-file FILE] [--detach] ID: create and
// start; without --detach, wait for the container and return its status,
// then delete it.
import { removeContainerCgroups } from '../../oci/cgroups.js';
import { request } from '../../oci/control.js';
import { createContainer } from '../../oci/container.js';
import { RuntimeError, runHooks, stateRoot } from '../../oci/runtime.js';
import { loadConfig } from '../../oci/spec.js';
import { StateStore, ociState } from '../../oci/state.js';
import { type Command } from '../main.js';
import { type FlagSpec, UsageError, parseFlags } from '../flags.js';
import { CREATE_FLAGS } from './create.js';

const RUN_FLAGS: readonly FlagSpec[] = [...CREATE_FLAGS, { name: 'detach', alias: ['d'], type: 'bool', help: 'do not wait for the container' }];

export const runCommand: Command = {
  summary: 'create and start a container',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(argv, RUN_FLAGS, false);
    if (rest.length !== 1) throw new UsageError('usage: tsvisor run [--bundle DIR] [--pid-file FILE] [--detach] ID');
    const id = rest[0]!;
    const detach = Boolean(flags.detach);
    const created = await createContainer(globals, id, {
      bundle: (flags.bundle as string | undefined) ?? process.cwd(),
      pidFile: flags['pid-file'] as string | undefined,
      consoleSocket: flags['console-socket'] as string | undefined,
      detach,
    });
    const store = new StateStore(stateRoot(globals));
    const state = store.load(id);
    const reply = await request(state.controlSocket, { op: 'start' });
    if (!reply.ok) throw new RuntimeError(reply.error);
    const config = loadConfig(state.bundle);
    runHooks('poststart', config.hooks.poststart, ociState(store.load(id)));
    if (detach) return 0;
    const code = await created.exited;
    try {
      runHooks('poststop', config.hooks.poststop, { ...ociState(store.load(id)), status: 'stopped' });
    } finally {
      await removeContainerCgroups(state.cgroups);
      store.remove(id);
    }
    return code;
  },
};
