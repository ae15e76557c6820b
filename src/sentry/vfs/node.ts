// The VFS object model.
//
// A Node is a file-system object (an inode). A Dentry names a Node inside its
// parent directory and caches the directory's children. A Mount places a file
// system's root dentry over a dentry of its parent mount. Path resolution
// (resolve.ts) walks dentries and crosses mounts; file systems only
// implement Node operations on single names.
import type { Stat, StatFs } from '../../abi/structs.js';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../../abi/linux.js';
import type { Creds } from '../creds.js';
import { fail } from '../errors.js';

export interface DirEntry {
  name: string;
  ino: number;
  /** d_type */
  type: number;
}

/** Which attributes a setattr changes. */
export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  /** [sec, nsec] with nsec possibly UTIME_NOW / UTIME_OMIT */
  atime?: [number, number];
  mtime?: [number, number];
}

/** The result of opening a node: a host fd to install in the guest. */
export interface Opened {
  /** host fd owned by the caller (installed, then closed by the Sentry) */
  fd: number;
  /** the node was created by this open */
  created?: boolean;
  /** the fd is another object than the node (the terminal behind /dev/tty): not to be identified as the node */
  foreign?: boolean;
}

export interface FileSystem {
  /** st_dev of the nodes of this file system (sandbox view) */
  readonly dev: number;
  /** type shown in /proc/mounts */
  readonly type: string;
  /**
   * How lookups are cached. 'tree': the file system is the Sentry's own and
   * its dentries are its tree (positive entries only, as many as it has
   * nodes). 'lru': positive and negative entries, in the sandbox's bounded
   * dentry cache (file systems only the sandbox changes: the root export, the
   * overlay). 'none': every lookup asks the file system (bind mounts, /proc).
   */
  readonly cache: 'tree' | 'lru' | 'none';
  statfs(): StatFs;
}

export abstract class Node {
  abstract readonly fs: FileSystem;
  /** fresh attributes */
  abstract stat(): Stat;
  /** file type and permission bits (cheap; may be cached) */
  abstract get mode(): number;

  isDir(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
  isSymlink(): boolean {
    return (this.mode & S_IFMT) === S_IFLNK;
  }
  isRegular(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }

  // Directory operations (names are single components, never "." or "..").
  lookup(_name: string): Node | null {
    fail('ENOTDIR');
  }
  readdir(): DirEntry[] {
    fail('ENOTDIR');
  }
  create(_name: string, _mode: number, _creds: Creds, _flags: number): Opened & { node: Node } {
    fail('ENOTDIR');
  }
  mkdir(_name: string, _mode: number, _creds: Creds): Node {
    fail('ENOTDIR');
  }
  mknod(_name: string, _mode: number, _rdev: number, _creds: Creds): Node {
    fail('ENOTDIR');
  }
  symlink(_name: string, _target: string, _creds: Creds): Node {
    fail('ENOTDIR');
  }
  link(_name: string, _target: Node): void {
    fail('ENOTDIR');
  }
  unlink(_name: string, _child: Node): void {
    fail('ENOTDIR');
  }
  rmdir(_name: string, _child: Node): void {
    fail('ENOTDIR');
  }
  /** Renames `oldName` in this directory to `newName` in `newDir` (same file system). */
  rename(_oldName: string, _newDir: Node, _newName: string, _flags: number): void {
    fail('EXDEV');
  }

  // Object operations.
  readlink(): string {
    fail('EINVAL');
  }
  /** Opens the object for the guest with open(2) flags (no O_CREAT); permissions were checked by the caller. */
  open(_flags: number): Opened {
    fail('ENXIO');
  }
  setattr(_attr: SetAttr): void {
    fail('EPERM');
  }
  getxattr(_name: string): Buffer | null {
    fail('EOPNOTSUPP');
  }
  listxattr(): string[] {
    return [];
  }
  setxattr(_name: string, _value: Buffer, _flags: number): void {
    fail('EOPNOTSUPP');
  }
  removexattr(_name: string): void {
    fail('EOPNOTSUPP');
  }
  /** Called after a rename moved this node's dentry (for nodes that track their own path). */
  moved(_newParent: Node, _newName: string): void {}
  /** The path a /proc/[pid]/fd link shows when this node is not in the tree (e.g. "pipe:[123]"). */
  anonName(): string | null {
    return null;
  }
  /** Magic links (/proc/[pid]/fd/N, exe, cwd, root) resolve to a location, not a path string. */
  magicLink(): Location | null {
    return null;
  }
  /** Its dentry left the cache: a node that holds a host resource may let it go (it can get it again). */
  evicted(): void {}
}

export class Dentry {
  /** positive and negative (null) cache of children */
  readonly children = new Map<string, Dentry | null>();
  /** a mount whose root covers this dentry */
  mounted: Mount | undefined;
  /** looked up again since the dentry cache last considered evicting it */
  hot = false;

  constructor(
    public name: string,
    public parent: Dentry | null,
    public node: Node,
  ) {}

  /** Cached child lookup; fills the cache from the node. */
  child(name: string): Dentry | null {
    const cached = this.children.get(name);
    if (cached !== undefined) {
      if (cached) cached.hot = true;
      return cached;
    }
    const node = this.node.lookup(name);
    const d = node ? new Dentry(name, this, node) : null;
    this.cacheChild(name, d);
    return d;
  }

  /** Records a child the Sentry itself created or renamed in. */
  add(name: string, node: Node): Dentry {
    const d = new Dentry(name, this, node);
    this.cacheChild(name, d);
    return d;
  }

  /** Caches child `d` (null: `name` does not exist) as this directory's file system allows. */
  cacheChild(name: string, d: Dentry | null): void {
    const policy = this.node.fs.cache;
    if (policy === 'none' || (policy === 'tree' && !d)) return;
    this.children.set(name, d);
    if (policy === 'lru') dentryCache.note(this, name, d);
  }

  forget(name: string): void {
    this.children.delete(name);
  }
}

/** Entries the dentry cache keeps for 'lru' file systems, positive and negative together. */
export const DENTRY_CACHE_MAX = 1 << 15;

/** A negative entry in the cache: `name` is known not to exist in `parent`. */
interface Negative {
  parent: Dentry;
  name: string;
}

/**
 * The bounded cache of dentries of 'lru' file systems. Past DENTRY_CACHE_MAX
 * entries it evicts, after the current system call, the oldest eighth: leaf
 * entries (no cached children, no mount on them) that were not looked up again
 * since (second chance) and that nothing in use refers to (`pinned`: task
 * directories, executables, open files). Evicting forgets the name only; a
 * later lookup makes a new dentry.
 */
class DentryCache {
  /** cached entries in the order they were cached */
  private readonly order = new Map<Dentry | Negative, true>();
  private scheduled = false;
  /** dentries in use that must stay (set by the kernel) */
  pinned: () => Iterable<Dentry> = () => [];

  get size(): number {
    return this.order.size;
  }

  note(parent: Dentry, name: string, d: Dentry | null): void {
    this.order.set(d ?? { parent, name }, true);
    if (this.order.size > DENTRY_CACHE_MAX && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.evict());
    }
  }

  private evict(): void {
    this.scheduled = false;
    const target = DENTRY_CACHE_MAX - (DENTRY_CACHE_MAX >> 3);
    const pinned = new Set(this.pinned());
    // Entries kept are moved to the end; visit each at most twice.
    let visits = 2 * this.order.size;
    for (const key of this.order.keys()) {
      if (this.order.size <= target || visits-- <= 0) break;
      this.order.delete(key);
      if (key instanceof Dentry) {
        const parent = key.parent;
        if (!parent || parent.children.get(key.name) !== key) continue;
        if (key.hot || key.mounted || key.children.size > 0 || pinned.has(key)) {
          key.hot = false;
          this.order.set(key, true);
          continue;
        }
        parent.children.delete(key.name);
        key.node.evicted();
      } else if (key.parent.children.get(key.name) === null) {
        key.parent.children.delete(key.name);
      }
    }
  }
}

export const dentryCache = new DentryCache();

export interface MountOptions {
  readonly: boolean;
  nosuid?: boolean;
  nodev?: boolean;
  noexec?: boolean;
  /** mount source shown in /proc/mounts */
  source: string;
  /** extra options shown in /proc/mounts */
  data?: string;
}

let nextMountId = 1;

export class Mount {
  readonly id = nextMountId++;
  readonly children: Mount[] = [];

  constructor(
    readonly fs: FileSystem,
    readonly root: Dentry,
    readonly parent: Mount | null,
    readonly mountpoint: Dentry | null,
    readonly opts: MountOptions,
  ) {
    if (parent && mountpoint) {
      parent.children.push(this);
      mountpoint.mounted = this;
      // Pinned in their parents' caches up to the parent mount's root, even
      // on file systems that cache nothing (bind mounts, /proc): a fresh
      // lookup would make a dentry without the mount.
      for (let d = mountpoint; d !== parent.root && d.parent; d = d.parent) d.parent.children.set(d.name, d);
    }
  }
}

/** A position in the tree: a dentry seen through a mount. */
export interface Location {
  mount: Mount;
  dentry: Dentry;
}
