// pause and resume: the container's guest processes frozen and thawed
// through its freezer cgroup, for `tsvisor pause`/`resume` (and `kill` of a
// paused container) and the containerd shim's Pause and Resume.
import { containerCgroups } from './cgroups.js';
import { RuntimeError } from './runtime.js';
import { type StateStore, status } from './state.js';

/**
 * Freezes container `id`'s processes (runc pause; runc pauses created
 * containers too). Only guest processes are in the freezer cgroup, so the
 * Sentry keeps answering kill, ps and exec's bookkeeping.
 */
export async function freezeContainer(store: StateStore, id: string): Promise<void> {
  const lock = store.lock(id);
  try {
    const state = store.load(id);
    const st = status(state);
    if (st !== 'running' && st !== 'created') throw new RuntimeError('container not running');
    await containerCgroups(state).freeze();
    state.paused = true;
    store.save(state);
  } finally {
    lock.release();
  }
}

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
