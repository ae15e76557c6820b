// tsvisor delete [--force] ID: removes a stopped container (with --force, a
// running one too, killing it first). Like runc, --force also clears what
// a crash left behind and succeeds for a container that does not exist.
import fs from 'node:fs';
import { removeContainerCgroups } from '../../oci/cgroups.js';
import { RuntimeError, runHooks, stateRoot, waitUntil } from '../../oci/runtime.js';
import { loadConfig } from '../../oci/spec.js';
import { StateError, StateStore, isAlive, ociState, status, validateId } from '../../oci/state.js';
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
    const force = Boolean(flags.force);
    const store = new StateStore(stateRoot(globals));
    let state;
    try {
      state = store.load(id);
    } catch (e) {
      if (e instanceof StateError && e.code === 'not-found') {
        // A directory without a state file is a create that crashed.
        fs.rmSync(store.dir(id), { recursive: true, force: true });
        if (force) return 0;
      }
      throw e;
    }
    const lock = store.lock(id);
    try {
      const st = status(state);
      if (st !== 'stopped') {
        if (!force) throw new RuntimeError(`cannot delete container ${id} that is not stopped: ${st}`);
        if (isAlive(state.sentryPid, state.sentryStartTime)) {
          process.kill(state.sentryPid, 'SIGKILL');
          if (!(await waitUntil(() => !isAlive(state.sentryPid, state.sentryStartTime), 5000))) {
            throw new RuntimeError(`the sandbox process ${state.sentryPid} did not die`);
          }
        }
      }
      // The sandbox is gone: its cgroups are empty (or about to be).
      const cgroupProblems = await removeContainerCgroups(state.cgroups);
      let hooksError: unknown;
      try {
        runHooks('poststop', loadConfig(state.bundle).hooks.poststop, { ...ociState(state), status: 'stopped' });
      } catch (e) {
        hooksError = e;
      }
      store.remove(id);
      // runc warns about poststop failures but still deletes.
      if (hooksError instanceof Error) fs.writeSync(2, `tsvisor: warning: ${hooksError.message}\n`);
      for (const p of cgroupProblems) fs.writeSync(2, `tsvisor: warning: ${p}\n`);
    } finally {
      lock.release();
    }
    return 0;
  },
};
