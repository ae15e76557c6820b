// The container's own directory in a host cgroup v1 hierarchy, shown
// read-only below the container's cgroup mount (/sys/fs/cgroup/memory, ...),
// as runc's read-only bind mounts show it. Files are read from the host
// when opened, into a memfd the guest reads natively, as /proc's: the guest
// never holds a cgroupfs fd (the Gofer serves none), so it cannot change a
// limit whatever the mount's flags. cgroup.procs and tasks are left out:
// they list host pids, which mean nothing in the sandbox's pid namespace.
import fs from 'node:fs';
import path from 'node:path';
import { CGROUP_SUPER_MAGIC, DT_REG, O_ACCMODE, O_RDONLY, O_REOPEN_FLAGS, S_IFDIR, S_IFREG } from '../../abi/linux.js';
import type { Stat, StatFs } from '../../abi/structs.js';
import { native } from '../../platform/native.js';
import { check, fail } from '../errors.js';
import { memfdHolding } from '../memfd.js';
import { anonDev } from './memfs.js';
import { type DirEntry, type FileSystem, Node, type Opened, type SeekEnd } from './node.js';

const HIDDEN = new Set(['cgroup.procs', 'tasks']);

export class CgroupView implements FileSystem {
  readonly dev = anonDev();
  readonly type = 'cgroup';
  readonly cache = 'none';
  readonly root: CgroupDir;

  constructor(hostDir: string) {
    this.root = new CgroupDir(this, hostDir);
  }

  statfs(): StatFs {
    return { type: CGROUP_SUPER_MAGIC, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, fsid: [0, 0], namelen: 255, frsize: 4096, flags: 0 };
  }

  /** kernfs: directories seek as empty files, attribute files are generated (seq_file). */
  seekEnd(node: Node): SeekEnd {
    return node.isDir() ? 0 : 'seq';
  }
}

/** The host's attributes of a cgroupfs object (mode, owner, times); the inode number is the host's too, unique within the view. */
function hostStat(fsys: CgroupView, hostPath: string, type: number): Stat {
  let st: fs.Stats;
  try {
    st = fs.statSync(hostPath);
  } catch {
    // The container's cgroup is removed at delete, after its guests are gone.
    fail('ENOENT');
  }
  const sec = (ms: number) => Math.floor(ms / 1000);
  return {
    dev: fsys.dev, ino: st.ino, mode: type | (st.mode & 0o7777), nlink: st.nlink, uid: 0, gid: 0, rdev: 0, size: 0, blksize: 4096, blocks: 0,
    atimeSec: sec(st.atimeMs), atimeNsec: 0, mtimeSec: sec(st.mtimeMs), mtimeNsec: 0, ctimeSec: sec(st.ctimeMs), ctimeNsec: 0, btimeSec: 0, btimeNsec: 0,
  };
}

class CgroupDir extends Node {
  constructor(
    readonly fs: CgroupView,
    private readonly hostPath: string,
  ) {
    super();
  }
  get mode(): number {
    return S_IFDIR | 0o555;
  }
  stat(): Stat {
    return hostStat(this.fs, this.hostPath, S_IFDIR);
  }
  /** Its files only: a child cgroup a guest could not have made is not shown. */
  #names(): string[] {
    try {
      return fs
        .readdirSync(this.hostPath, { withFileTypes: true })
        .filter((e) => e.isFile() && !HIDDEN.has(e.name))
        .map((e) => e.name);
    } catch {
      return [];
    }
  }
  override lookup(name: string): Node | null {
    return this.#names().includes(name) ? new CgroupFile(this.fs, path.join(this.hostPath, name)) : null;
  }
  override readdir(): DirEntry[] {
    return this.#names().map((name) => ({ name, ino: hostStat(this.fs, path.join(this.hostPath, name), S_IFREG).ino, type: DT_REG }));
  }
}

class CgroupFile extends Node {
  constructor(
    readonly fs: CgroupView,
    private readonly hostPath: string,
  ) {
    super();
  }
  get mode(): number {
    return S_IFREG | 0o444;
  }
  stat(): Stat {
    return hostStat(this.fs, this.hostPath, S_IFREG);
  }
  override open(flags: number): Opened {
    if ((flags & O_ACCMODE) !== O_RDONLY) fail('EROFS');
    let data: Buffer;
    try {
      data = fs.readFileSync(this.hostPath);
    } catch {
      // A write-only file (cgroup.event_control, memory.force_empty): kernfs refuses a read open.
      fail('EACCES');
    }
    const m = memfdHolding(`cgroup:${path.basename(this.hostPath)}`, data);
    try {
      return { fd: check(native.reopen(m, flags & O_REOPEN_FLAGS)) };
    } finally {
      native.close(m);
    }
  }
}
