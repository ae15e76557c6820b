// Resource limits of a `tsvisor do` sandbox: what its guest processes may
// use together (memory and pids, in a cgroup of their own: guest-cgroup.ts)
// and what its in-memory file systems may hold. The defaults are far above
// what builds and test suites use and far below what takes the host down
// (docs/design.md "Bounds"). Kept light: the CLI reads it before it starts
// the Gofer.
import os from 'node:os';

export interface GuestLimits {
  /** bytes of memory the guest processes may use together; 0: no limit */
  memory: number;
  /** processes and threads of the guest together; 0: no limit */
  pids: number;
  /** bytes the in-memory overlay may hold */
  overlaySize: number;
  /** files, directories, links... it may hold (its nr_inodes) */
  overlayInodes: number;
  /** bytes /dev/shm may hold */
  shmSize: number;
}

/**
 * Nodes (names, counted as Linux's tmpfs counts hard links) that all the
 * in-memory file systems of a sandbox may hold together: the Sentry's heap
 * holds them. Measured: ~0.8 KiB of heap per directory with its dentry
 * (docs/design.md "Bounds").
 */
export const SANDBOX_NODES = 1 << 18;

/**
 * The caller's soft fd limit, as bin/tsvisor found it: Node raises its own to
 * the hard one as it starts, and the guest must get the caller's.
 */
export const CALLER_NOFILE_ENV = 'TSVISOR_CALLER_NOFILE';

/** The overlay's upper layer unless the sandbox says otherwise: a quarter of the memory. */
export const DEFAULT_OVERLAY_SIZE = Math.floor(os.totalmem() / 4);

export const DEFAULT_LIMITS: GuestLimits = {
  memory: Math.floor(os.totalmem() / 2),
  pids: 4096,
  overlaySize: DEFAULT_OVERLAY_SIZE,
  overlayInodes: SANDBOX_NODES,
  shmSize: 64 << 20,
};

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** "512m", "2g", "65536k", "1048576" (bytes; k, m, g, t are powers of 1024); null if it is none of them. */
export function parseSize(s: string): number | null {
  const m = /^(\d+)([kmgt]?)(?:i?b)?$/i.exec(s.trim());
  if (!m) return null;
  const n = Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  return Number.isSafeInteger(n) ? n : null;
}

