// Creating a container: the part `create` and `run` share. The sandbox
// process (`tsvisor boot`) is started detached with the caller's stdio; it
// reports on a pipe once the container is set up with its first process held
// before exec.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { FlagValues } from '../cli/flags.js';
import { PROJECT_ROOT } from '../platform/native.js';
import { planContainerCgroups, removeContainerCgroups } from './cgroups.js';
import { RuntimeError, globalArgs, runHooks, stateRoot } from './runtime.js';
import { loadConfig } from './spec.js';
import { StateStore, ociState, validateId } from './state.js';

export interface CreateOptions {
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  /** start the sandbox process in its own session, outliving the command (create, run -d) */
  detach: boolean;
}

export interface Created {
  sandboxPid: number;
  /** resolves to the sandbox process's exit status (only meaningful when not detached) */
  exited: Promise<number>;
}

export async function createContainer(globals: FlagValues, id: string, o: CreateOptions): Promise<Created> {
  validateId(id);
  const bundle = path.resolve(o.bundle);
  const config = loadConfig(bundle);
  if (config.process.terminal && !o.consoleSocket) throw new RuntimeError('process.terminal is set: --console-socket is needed');
  const cgroupPlan = planContainerCgroups(Boolean(globals['systemd-cgroup']), config, id);
  const store = new StateStore(stateRoot(globals));
  store.create({
    ociVersion: config.ociVersion,
    id,
    status: 'creating',
    pid: 0,
    bundle,
    rootfs: config.root.path,
    created: new Date().toISOString(),
    annotations: config.annotations,
    owner: '',
    sentryPid: 0,
    sentryStartTime: 0,
    controlSocket: '',
    config: path.join(bundle, 'config.json'),
    ...cgroupPlan,
  });
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/cli/main.js'), ...globalArgs(globals), 'boot', '--bundle', bundle, ...(o.consoleSocket ? ['--console-socket', o.consoleSocket] : []), id], {
    detached: o.detach,
    // With a terminal the container's stdio is the pty: the sandbox process
    // must not keep create's own stdio, which the caller may read to EOF
    // (containerd's shim collects runc's output that way).
    stdio: config.process.terminal ? ['ignore', 'ignore', 'ignore', 'pipe'] : ['inherit', 'inherit', 'inherit', 'pipe'],
  });
  const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? 128 + (sig ? 9 : 0))));
  const answer = await new Promise<string>((resolve) => {
    let out = '';
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    pipe.setEncoding('utf8');
    pipe.on('data', (s: string) => (out += s));
    pipe.on('end', () => resolve(out.trim()));
  });
  if (answer !== 'ok') {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
    await exited;
    await removeContainerCgroups(cgroupPlan.cgroups);
    store.remove(id);
    throw new RuntimeError(answer.startsWith('error ') ? answer.slice(6) : `the sandbox process failed to start${answer ? `: ${answer}` : ''}`);
  }
  try {
    // The container is still being created while these run: runc's state says so.
    const state = { ...ociState(store.load(id)), status: 'creating' as const };
    runHooks('prestart', config.hooks.prestart, state);
    runHooks('createRuntime', config.hooks.createRuntime, state);
    runHooks('createContainer', config.hooks.createContainer, state);
    if (o.pidFile) writePidFile(o.pidFile, child.pid!);
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    await removeContainerCgroups(cgroupPlan.cgroups);
    store.remove(id);
    throw e;
  }
  if (o.detach) child.unref();
  return { sandboxPid: child.pid!, exited };
}

/** Written atomically: the shim reads it as soon as create returns. */
function writePidFile(file: string, pid: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, String(pid));
  fs.renameSync(tmp, file);
}
