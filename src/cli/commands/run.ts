// tsvisor run [--bundle DIR] [--pid-file FILE] [--detach] ID: create and
// start; without --detach, wait for the container and return its status,
// then delete it. Without --detach this process is the sandbox process
// itself (no second Node process to start), and it passes the signals it
// gets on to the container's init, as runc run does.
import fs from 'node:fs';
import { removeContainerCgroups } from '../../oci/cgroups.js';
import { createContainer, finishCreate, registerContainer, unregisterContainer } from '../../oci/container.js';
import { RuntimeError, reportError, stateRoot } from '../../oci/runtime.js';
import { type Sandbox, StartupSignals, forwardSignals, runHooksIn, startSandbox } from '../../oci/sandbox.js';
import { StateStore, ociState } from '../../oci/state.js';
import { type Command } from '../main.js';
import { type FlagSpec, parseFlags, wrongArguments } from '../flags.js';
import { CREATE_FLAGS } from './create.js';
import { startContainer } from './start.js';

const RUN_FLAGS: readonly FlagSpec[] = [...CREATE_FLAGS, { name: 'detach', alias: ['d'], type: 'bool', help: 'do not wait for the container' }];

export const runCommand: Command = {
  summary: 'create and start a container',
  usage: 'run [--bundle DIR] [--pid-file FILE] [--detach] ID',
  async run(globals, argv, prestarted) {
    const { flags, rest } = parseFlags(argv, RUN_FLAGS, false);
    if (rest.length !== 1) throw wrongArguments();
    const id = rest[0]!;
    const bundle = (flags.bundle as string | undefined) ?? process.cwd();
    const pidFile = flags['pid-file'] as string | undefined;
    const consoleSocket = flags['console-socket'] as string | undefined;
    if (flags.detach || !prestarted.gofer) {
      prestarted.gofer?.kill();
      const createArgs = ['--bundle', bundle, ...(pidFile ? ['--pid-file', pidFile] : []), ...(consoleSocket ? ['--console-socket', consoleSocket] : []), id];
      const created = await createContainer(globals, createArgs);
      if (created !== 0) return created;
      await startContainer(new StateStore(stateRoot(globals)), id);
      return 0;
    }

    const signals = new StartupSignals();
    const r = registerContainer(globals, id, bundle, consoleSocket);
    let sandbox: Sandbox | undefined;
    try {
      sandbox = await startSandbox(globals, id, r.config, { consoleSocket, gofer: prestarted.gofer, signals });
      await finishCreate(r, sandbox, pidFile);
      if (signals.received !== undefined) throw new RuntimeError(signals.message);
    } catch (e) {
      await sandbox?.release();
      await unregisterContainer(r);
      if (signals.received === undefined) throw e;
      return reportError(globals, signals.message, 128 + signals.received);
    }
    const k = sandbox.kernel;
    signals.stop();
    forwardSignals(k);
    await sandbox.start();
    // This process is the Sentry: its hooks run through it (runHooksIn), not child_process.
    await runHooksIn(k, 'host', 'poststart', r.config.hooks.poststart, ociState(r.store.load(id)));
    const code = await sandbox.exited;
    try {
      // As delete runs them: a failure is a warning and the others still run.
      const stopped = { ...ociState(r.store.load(id)), status: 'stopped' };
      for (const h of r.config.hooks.poststop) {
        await runHooksIn(k, 'host', 'poststop', [h], stopped).catch((e: Error) => fs.writeSync(2, `tsvisor: warning: ${e.message}\n`));
      }
    } finally {
      await sandbox.release();
      await removeContainerCgroups(r.cgroups);
      r.store.remove(id);
    }
    return code;
  },
};
