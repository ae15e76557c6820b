// Shared fixtures for the Gofer suites: temporary export directories, Gofers
// started from dist/ (see test/global-setup.ts) and small fd helpers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { native, STATX } from '../../src/platform/native.js';
import { type GoferClient, type GoferDevice, type GoferExport, spawnGofer } from '../../src/gofer/client.js';
import { GOFER_ENTRY } from '../../src/paths.js';

export const tmpDirs: string[] = [];
export const gofers: { pid: number; client: GoferClient }[] = [];

/** A fresh directory under /tmp, removed by cleanup(). */
export function mkTmp(prefix = 'gofer-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}

export function startGofer(exports: GoferExport[], devices: GoferDevice[] = []): { pid: number; client: GoferClient } {
  if (!fs.existsSync(GOFER_ENTRY)) throw new Error(`${GOFER_ENTRY} is missing: the global setup builds it`);
  const g = spawnGofer(exports, devices);
  gofers.push(g);
  return g;
}

/** Closes every client (the Gofers exit), kills leftovers, removes temp dirs. */
export function cleanup(): void {
  for (const g of gofers.splice(0)) {
    g.client.close();
    try {
      process.kill(g.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const d of tmpDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** The file-status flags of one of our fds, from /proc/self/fdinfo. */
export function fdFlags(fd: number): number {
  const m = /^flags:\s*([0-7]+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return parseInt(m![1]!, 8);
}

/** What an fd refers to, as (dev, ino) the way node:fs reports it. */
export function fdIdentity(fd: number): { dev: number; ino: number } {
  const s = fs.fstatSync(fd);
  return { dev: s.dev, ino: s.ino };
}

export function makedev(major: number, minor: number): number {
  return ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12);
}

/** Checks the statx fields a Gofer returned against node's lstat of the host path. */
export function sameAsHost(stat: Float64Array, hostPath: string): void {
  const h = fs.lstatSync(hostPath);
  const got = {
    mode: stat[STATX.mode],
    ino: stat[STATX.ino],
    uid: stat[STATX.uid],
    gid: stat[STATX.gid],
    nlink: stat[STATX.nlink],
    size: stat[STATX.size],
    dev: makedev(stat[STATX.devMajor]!, stat[STATX.devMinor]!),
  };
  const want = { mode: h.mode, ino: h.ino, uid: h.uid, gid: h.gid, nlink: h.nlink, size: h.size, dev: h.dev };
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`stat of ${hostPath} differs: got ${JSON.stringify(got)}, host ${JSON.stringify(want)}`);
  }
}

export function closeFd(fd: number): void {
  if (fd >= 0) native.close(fd);
}

export function readAll(fd: number): string {
  const b = Buffer.alloc(65536);
  const n = fs.readSync(fd, b, 0, b.length, 0);
  return b.toString('latin1', 0, n);
}

/** Whether pid is gone or a zombie. */
export function isDead(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

export async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}
