// Creating a container, the part `create` and `run` share: the container is
// recorded ('creating', with its cgroups), the sandbox process sets it up
// (src/oci/sandbox.ts), then the hooks runc runs before start and the pid
// file. For `create` (and `run --detach`) that is `tsvisor boot`, a process
// that outlives the command, started under its anchor's keeper
// (native/anchor.c); `run` is the sandbox itself.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { FlagValues } from '../cli/flags.js';
import { ANCHOR_PATH, CLI_ENTRY } from '../paths.js';
import { type CgroupPaths, type ResourceLimits, containerCgroups, mergeResources, planContainerCgroups, removeContainerCgroups } from './cgroups.js';
import { RuntimeError, globalArgs, readAnswer, runHooks, stateRoot, waitUntil } from './runtime.js';
import { type Sandbox, runHooksIn } from './sandbox.js';
import { type ContainerConfig, type Hook, loadConfig } from './spec.js';
import { DIRECT_START_FILE, StateError, StateStore, isAlive, ociState, status, validateId } from './state.js';

/** A container recorded in the state store, not yet set up. */
export interface Registered {
  id: string;
  bundle: string;
  config: ContainerConfig;
  store: StateStore;
  cgroups?: CgroupPaths;
}

/** Checks the bundle and records the container as 'creating', with the cgroups it will have. */
export function registerContainer(globals: FlagValues, id: string, bundleDir: string, consoleSocket: string | undefined): Registered {
  validateId(id);
  const bundle = path.resolve(bundleDir);
  const config = loadConfig(bundle);
  if (config.process.terminal && !consoleSocket) throw new RuntimeError('process.terminal is set: --console-socket is needed');
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
    poststop: config.hooks.poststop,
    ...cgroupPlan,
  });
  return { id, bundle, config, store, cgroups: cgroupPlan.cgroups };
}

/** Undoes registerContainer after a create that failed (its sandbox process is gone). */
export async function unregisterContainer(r: Registered): Promise<void> {
  await removeContainerCgroups(r.cgroups);
  r.store.remove(r.id);
}

/**
 * What runc does once the container exists, before `start`: the prestart,
 * createRuntime and createContainer hooks (run by the sandbox process, which
 * owns the container's Sentry), and the pid file.
 */
export async function finishCreate(r: Registered, sandbox: Sandbox, pidFile: string | undefined): Promise<void> {
  // The container is still being created while these run: runc's state says so.
  const state = { ...ociState(r.store.load(r.id)), status: 'creating' as const };
  for (const kind of ['prestart', 'createRuntime', 'createContainer'] as const) await runHooksIn(sandbox.kernel, 'host', kind, r.config.hooks[kind], state);
  if (pidFile) writePidFile(pidFile, sandbox.pid);
  if (r.config.hooks.poststart.length === 0) fs.writeFileSync(path.join(r.store.dir(r.id), DIRECT_START_FILE), '');
}

/**
 * `create` run as a Node command of its own: starts the sandbox process
 * (`tsvisor boot`, which does the whole create) under its anchor's keeper,
 * detached, and waits for its word. Returns the exit status: the sandbox
 * process reports errors itself.
 */
export async function createContainer(globals: FlagValues, createArgs: readonly string[]): Promise<number> {
  const boot = [CLI_ENTRY, ...globalArgs(globals), 'boot', '--ready-fd', '3', '--anchor-fd', '4', ...createArgs];
  const child = spawn(ANCHOR_PATH, ['4', process.execPath, ...boot], {
    detached: true,
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
  });
  const answer = await readAnswer(child);
  child.unref();
  return answer === 'ok' ? 0 : 1;
}

/** Written atomically: the shim reads it as soon as create returns. */
function writePidFile(file: string, pid: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, String(pid));
  fs.renameSync(tmp, file);
}

/**
 * Removes a stopped container (`delete`; with `force` a running one too,
 * killing its sandbox process first), running its poststop hooks. Like
 * runc, `force` also clears what a crash left behind and succeeds for a
 * container that does not exist. Returns warnings (a poststop hook that
 * failed, cgroups left behind): runc deletes all the same.
 */
export async function deleteContainer(root: string, id: string, force: boolean): Promise<string[]> {
  const store = new StateStore(root);
  let state;
  try {
    state = store.load(id);
  } catch (e) {
    if (e instanceof StateError && e.code === 'not-found') {
      // A directory without a state file is a create that crashed.
      fs.rmSync(store.dir(id), { recursive: true, force: true });
      if (force) return [];
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
    const warnings = await removeContainerCgroups(state.cgroups);
    // A failed poststop hook is a warning; the others still run and the
    // container is deleted (the OCI spec's rule; runc 1.1 warns but skips
    // the hooks after the failed one).
    const hookErrors: string[] = [];
    const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
    let hooks: readonly Hook[] = [];
    try {
      // Those of create, as runc runs them; an older tsvisor's state has none recorded.
      hooks = state.poststop ?? loadConfig(state.bundle).hooks.poststop;
    } catch (e) {
      hookErrors.push(message(e));
    }
    for (const h of hooks) {
      try {
        runHooks('poststop', [h], { ...ociState(state), status: 'stopped' });
      } catch (e) {
        hookErrors.push(message(e));
      }
    }
    store.remove(id);
    return [...hookErrors, ...warnings];
  } finally {
    lock.release();
  }
}

/**
 * `update` (the command and the shim's Update): writes the fields `patch`
 * asks for to the container's cgroups, as runc's update does, and merges
 * them into the resources its state records. Returns warnings (what is
 * accepted but not applied).
 */
export function updateContainer(root: string, id: string, patch: ResourceLimits): string[] {
  const store = new StateStore(root);
  const lock = store.lock(id);
  try {
    const state = store.load(id);
    if (status(state) === 'stopped') throw new RuntimeError('container not running');
    const warnings = containerCgroups(state).apply(patch, 'update');
    state.resources = mergeResources(state.resources ?? {}, patch);
    store.save(state);
    return warnings;
  } finally {
    lock.release();
  }
}
