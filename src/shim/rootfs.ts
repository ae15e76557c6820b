// The container's root file system as containerd hands it to a shim: the
// snapshot's mounts (an overlay of the image's layers, usually), to be
// mounted on the bundle's rootfs directory, which config.json's root.path
// names; and unmounted when the task is deleted. mount(8) does the work.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Code, RpcError } from './ttrpc.js';

export interface Mount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

const run = promisify(execFile);

export async function mountRootfs(bundle: string, mounts: readonly Mount[]): Promise<void> {
  const rootfs = path.join(bundle, 'rootfs');
  fs.mkdirSync(rootfs, { recursive: true });
  for (const [i, m] of mounts.entries()) {
    const options = m.options.length > 0 ? ['-o', m.options.join(',')] : [];
    try {
      await run('mount', ['-t', m.type, ...options, m.source, path.join(rootfs, m.target)]);
    } catch (e) {
      if (i > 0) await unmountRootfs(bundle);
      throw new RpcError(Code.FailedPrecondition, `mounting the root file system (${m.type} ${m.source}): ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`);
    }
  }
}

/** Unmounts everything on the bundle's rootfs (nothing mounted is fine). */
export async function unmountRootfs(bundle: string): Promise<void> {
  const rootfs = path.join(bundle, 'rootfs');
  for (;;) {
    try {
      await run('umount', [rootfs]);
    } catch {
      return;
    }
  }
}
