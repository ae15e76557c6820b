// A minimal, read-only /sys: what programs commonly probe (CPU topology,
// a few kernel and memory facts). Everything else is absent, as on a
// machine without that hardware.
import os from 'node:os';
import { SYSFS_MAGIC } from '../../abi/linux.js';
import type { Stat, StatFs } from '../../abi/structs.js';
import { ROOT_CREDS } from '../creds.js';
import { MemDir, MemFile, MemFs, type SpecialOpener } from './memfs.js';
import type { Node, SeekEnd } from './node.js';
import fs from 'node:fs';

class SysFs extends MemFs {
  override readonly directIo = false;
  override statfs(): StatFs {
    return { ...super.statfs(), type: SYSFS_MAGIC, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0 };
  }
  /** As Linux's sysfs: directories seek as empty files, attributes as a page. */
  seekEnd(node: Node): SeekEnd {
    return node.isDir() ? 0 : 4096;
  }
  /** As Linux's sysfs: an attribute is a page long and a directory empty, whatever they hold; neither has blocks. */
  override shown(node: Node, s: Stat): Stat {
    return { ...s, size: node.isDir() ? 0 : 4096, blocks: 0 };
  }
}

function file(fsys: MemFs, dir: MemDir, name: string, content: string): void {
  dir.insert(name, MemFile.filled(fsys, 0o444, 0, 0, (fd) => fs.writeSync(fd, content)));
}

function mkdirs(dir: MemDir, path: string): MemDir {
  let d = dir;
  for (const part of path.split('/').filter(Boolean)) {
    const next = d.entries.get(part);
    d = next instanceof MemDir ? next : (d.mkdir(part, 0o755, ROOT_CREDS) as MemDir);
  }
  return d;
}

export function buildSys(opener: SpecialOpener): { fs: MemFs; root: MemDir } {
  const sysFs = new SysFs('sysfs', 1 << 20);
  const root = new MemDir(sysFs, 0o555, 0, 0, opener);
  const n = os.cpus().length;
  const range = n > 1 ? `0-${n - 1}` : '0';
  const cpu = mkdirs(root, 'devices/system/cpu');
  for (const name of ['online', 'possible', 'present']) file(sysFs, cpu, name, `${range}\n`);
  for (let i = 0; i < n; i++) {
    const c = mkdirs(cpu, `cpu${i}`);
    file(sysFs, c, 'online', '1\n');
    const topo = mkdirs(c, 'topology');
    file(sysFs, topo, 'core_id', `${i}\n`);
    file(sysFs, topo, 'physical_package_id', '0\n');
  }
  const node = mkdirs(root, 'devices/system/node/node0');
  file(sysFs, node, 'cpulist', `${range}\n`);
  const mm = mkdirs(root, 'kernel/mm/transparent_hugepage');
  file(sysFs, mm, 'enabled', 'always [madvise] never\n');
  mkdirs(root, 'fs/cgroup');
  mkdirs(root, 'class/net');
  mkdirs(root, 'bus');
  return { fs: sysFs, root };
}
