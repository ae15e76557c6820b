// The cgroup of a `tsvisor do` sandbox's guest processes (limits.ts says
// what goes in it).
import fs from 'node:fs';
import path from 'node:path';
import { type CgroupPaths, ContainerCgroups, readCgroupHost, resolveCgroupPaths } from '../oci/cgroups.js';
import type { GuestLimits } from './limits.js';

/** Where the cgroups of `tsvisor do` sandboxes go: below the caller's own, one per sandbox process. */
const PARENT = 'tsvisor-do';

function cgroupName(pid: number): string {
  return `${PARENT}/${pid}`;
}

/**
 * The cgroup of a sandbox's guest processes (only theirs: the Sentry and
 * the Gofer stay where they are, so their threads do not count and a guest
 * OOM never picks them): memory (v1: memory.limit_in_bytes and
 * memory.memsw.limit_in_bytes, no swap) and pids, each guest process joining
 * before it runs anything of its own.
 */
export class GuestCgroup {
  private constructor(private readonly cg: ContainerCgroups) {}

  /**
   * Makes it, or says how the limits are held without one: `nproc`, the
   * guest's RLIMIT_NPROC standing in for --pids, and warnings (--memory is
   * not enforced, and why).
   */
  static create(limits: GuestLimits): { cgroup?: GuestCgroup; warnings: string[]; nproc?: number } {
    if (!limits.memory && !limits.pids) return { warnings: [] };
    let paths: CgroupPaths | undefined;
    try {
      paths = resolveCgroupPaths(readCgroupHost(), cgroupName(process.pid), '');
    } catch {
      paths = undefined;
    }
    if (!paths) return withoutCgroup(limits, 'the host has no cgroup file system');
    if (paths.version === 1) paths = { version: 1, dirs: { memory: paths.dirs.memory, pids: paths.dirs.pids } };
    removeStale(paths);
    const cg = new ContainerCgroups(paths);
    const warnings = cg.create();
    if (!cg.usable) return withoutCgroup(limits, warnings[0] ?? 'no cgroup could be made');
    const memory = limits.memory ? { limit: limits.memory, swap: limits.memory } : undefined;
    warnings.push(...cg.apply({ ...(memory ? { memory } : {}), ...(limits.pids ? { pids: { limit: limits.pids } } : {}) }, 'warn'));
    return { cgroup: new GuestCgroup(cg), warnings };
  }

  /** Moves guest process `pid` in (v1: the memory and pids cgroups; v2: the guest leaf); returns warnings. */
  join(pid: number): string[] {
    return [...this.cg.joinSandbox(pid), ...this.cg.joinGuest(pid)];
  }

  /** How many guest processes the memory limit killed. */
  oomKills(): number {
    return this.cg.oomKills();
  }

  /** The most memory the guest processes used together, in bytes (v1 memory.max_usage_in_bytes, v2 memory.peak); null where the host does not say. */
  peakMemory(): number | null {
    const max = (this.cg.stats().memory as { usage?: { max?: bigint } } | undefined)?.usage?.max;
    return max === undefined ? null : Number(max);
  }

  /** Removes it once the guests are gone; returns what could not be removed. */
  remove(): Promise<string[]> {
    return this.cg.remove();
  }
}

/**
 * Without a cgroup (an ordinary user whose cgroup is not delegated to it, a
 * host without cgroups): --pids becomes the guest's RLIMIT_NPROC, which
 * Linux counts per user and user namespace, so only the sandbox's processes
 * and threads count (measured: docs/design.md, "Rootless"); --memory is not
 * enforced, and a warning says so.
 */
function withoutCgroup(limits: GuestLimits, why: string): { warnings: string[]; nproc?: number } {
  return {
    warnings: limits.memory ? [`--memory is not enforced: ${why}`] : [],
    ...(limits.pids ? { nproc: limits.pids } : {}),
  };
}

/** Removes the cgroups left by `tsvisor do` processes that are gone (killed before they could). */
function removeStale(paths: CgroupPaths): void {
  const parents = paths.version === 2 ? [path.dirname(paths.dir)] : Object.values(paths.dirs).map((d) => path.dirname(d!));
  for (const parent of new Set(parents)) {
    let names: string[];
    try {
      names = fs.readdirSync(parent);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!/^\d+$/.test(name) || name === String(process.pid) || isAlive(Number(name))) continue;
      const dir = path.join(parent, name);
      const stale: CgroupPaths = paths.version === 2 ? { ...paths, dir } : { version: 1, dirs: { memory: dir } };
      void new ContainerCgroups(stale).remove(0);
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
