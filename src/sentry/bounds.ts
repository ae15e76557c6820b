// The Sentry's own bounds (docs/design.md "Bounds"): what it holds whatever a
// guest does. Set up once per sandbox, when the kernel starts.
import { RLIMIT_NOFILE } from '../abi/linux.js';
import { CALLER_NOFILE_ENV } from './limits.js';
import { native } from '../platform/native.js';
import type { Kernel } from './kernel.js';
import type { Dentry } from './vfs/node.js';
import { dentryCache } from './vfs/node.js';
import { setGoferFdCacheMax } from './vfs/goferfs.js';
import { setHeldInodeOpener } from './vfs/storage.js';

/** [resource, soft, hard] as SandboxSpec.rlimits has them (-1: unlimited). */
export type Rlimit = [number, number, number];

/**
 * Raises the Sentry's fd limit as far as it may (the soft limit to the hard
 * one: raising the hard limit needs CAP_SYS_RESOURCE, which root may lack),
 * sizes the Gofer fd cache to it, and connects the caches to what pins their
 * entries. Returns the caller's own fd limit (its soft limit as bin/tsvisor
 * kept it), which the guest gets unless its spec says otherwise: never the
 * Sentry's raised one.
 */
export function setUpBounds(k: Kernel): Rlimit {
  const r = native.getRlimit(RLIMIT_NOFILE);
  const [raised, hard] = typeof r === 'number' ? [1024, 1024] : r;
  const kept = Number(process.env[CALLER_NOFILE_ENV]);
  const soft = Number.isSafeInteger(kept) && kept > 0 && (hard < 0 || kept <= hard) ? kept : raised;
  const limit = hard < 0 ? 1 << 20 : hard;
  if (native.setRlimit(RLIMIT_NOFILE, limit, limit) < 0) native.setRlimit(RLIMIT_NOFILE, limit, hard);
  // A quarter of the fds for cached O_PATH fds of host files, 4096 at most.
  setGoferFdCacheMax(Math.max(16, Math.min(4096, Math.floor(limit / 4))));
  // An eighth for the pidfds that keep unreaped zombies listed in /proc.
  k.zombieBudget = Math.max(16, Math.min(4096, Math.floor(limit / 8)));
  setHeldInodeOpener((major, minor, ino, flags) => k.files.openHeld(major, minor, ino, flags));
  dentryCache.pinned = () => pinnedDentries(k);
  return [RLIMIT_NOFILE, soft, hard];
}

/** The guest's rlimits: the spec's, with the caller's fd limit unless the spec sets one. */
export function guestRlimits(spec: readonly Rlimit[], callerNofile: Rlimit): Rlimit[] {
  return spec.some(([res]) => res === RLIMIT_NOFILE) ? [...spec] : [...spec, callerNofile];
}

/** Dentries in use: task directories, executables, open files. */
function* pinnedDentries(k: Kernel): Generator<Dentry> {
  for (const t of k.tasks.values()) {
    yield t.fs.cwd.dentry;
    yield t.fs.root.dentry;
    // An fexecve of the guest's own memfd has no location (exec.ts).
    if (t.pendingExec?.exe) yield t.pendingExec.exe.dentry;
  }
  for (const p of k.procs.values()) if (p.exe) yield p.exe.dentry;
  for (const f of k.files.entries()) yield f.loc.dentry;
}
