// The VFS object model.
//
// A Node is a file-system object (an inode). A Dentry names a Node inside its
// parent directory and caches the directory's children. A Mount places a file
// system's root dentry over a dentry of its parent mount. Path resolution
// (resolve.ts) walks dentries and crosses mounts; file systems only
// implement Node operations on single names.
import type { Stat, StatFs } from '../../abi/structs.js';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, UTIME_NOW, UTIME_OMIT, XATTR_CREATE, XATTR_REPLACE } from '../../abi/linux.js';
import { type Creds, permitted } from '../creds.js';
import { fail } from '../errors.js';
import type { Acl } from './posixacl.js';
import { XATTR_NODE_MAX, chargeMeta, unchargeMeta } from './storage.js';

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

/**
 * The host object a guest fd refers to, for calls made through an fd: the
 * Sentry's copy of the guest's fd and its statx. A node whose object is a
 * host file (the Gofer's files, in-memory files' storage) acts on it rather
 * than on its path, which may since name another object or nothing.
 */
export interface Via {
  fd: number;
  sx: Float64Array;
}

/** The result of opening a node: a host fd to install in the guest. */
export interface Opened {
  /** host fd owned by the caller (installed, then closed by the Sentry) */
  fd: number;
  /** the node was created by this open */
  created?: boolean;
  /** the fd is another object than the node (the terminal behind /dev/tty): not to be identified as the node */
  foreign?: boolean;
  /** a terminal the opener takes as its controlling terminal if it may (tty_open's rule; ctty.ts) */
  ctty?: boolean;
}

/** Bytes of xattrs held by Detached objects, given back to the budget when they are collected. */
const detachedBytes = new FinalizationRegistry<{ bytes: number }>((held) => unchargeMeta(held.bytes));

/**
 * Attributes of a node whose name is gone while something still refers to
 * it, kept by the Sentry when no host object carries them: a lower file of
 * the overlay (its own is read-only), a Gofer object reached without an fd of
 * its own. Its xattrs are `base`'s until the first change, then its own,
 * charged to the sandbox's budget of metadata.
 */
export class Detached {
  private xattrs: Map<string, Buffer> | undefined;
  private readonly held = { bytes: 0 };

  constructor(
    private readonly st: Stat,
    private readonly base: Node | null = null,
  ) {
    detachedBytes.register(this, this.held);
  }

  stat(): Stat {
    return { ...this.st };
  }

  setattr(a: SetAttr, now: [number, number]): void {
    const s = this.st;
    if (a.mode !== undefined) s.mode = (s.mode & S_IFMT) | (a.mode & 0o7777);
    if (a.uid !== undefined && a.uid !== -1) s.uid = a.uid;
    if (a.gid !== undefined && a.gid !== -1) s.gid = a.gid;
    const time = (t: [number, number] | undefined, cur: [number, number]): [number, number] =>
      !t || t[1] === UTIME_OMIT ? cur : t[1] === UTIME_NOW ? now : t;
    [s.atimeSec, s.atimeNsec] = time(a.atime, [s.atimeSec, s.atimeNsec]);
    [s.mtimeSec, s.mtimeNsec] = time(a.mtime, [s.mtimeSec, s.mtimeNsec]);
    [s.ctimeSec, s.ctimeNsec] = now;
  }

  getxattr(name: string): Buffer | null {
    return this.xattrs ? this.xattrs.get(name) ?? null : this.base?.getxattr(name) ?? null;
  }

  listxattr(): string[] {
    return this.xattrs ? [...this.xattrs.keys()] : this.base?.listxattr() ?? [];
  }

  setxattr(name: string, value: Buffer, flags: number): void {
    const x = this.own();
    const old = x.get(name);
    if (flags & XATTR_CREATE && old) fail('EEXIST');
    if (flags & XATTR_REPLACE && !old) fail('ENODATA');
    const grow = value.length - (old ? old.length : -name.length);
    if (this.held.bytes + grow > XATTR_NODE_MAX) fail('ENOSPC');
    this.charge(grow);
    x.set(name, Buffer.from(value));
  }

  removexattr(name: string): void {
    const x = this.own();
    const old = x.get(name);
    if (!old) fail('ENODATA');
    x.delete(name);
    this.charge(-name.length - old.length);
  }

  private own(): Map<string, Buffer> {
    if (this.xattrs) return this.xattrs;
    const x = new Map<string, Buffer>();
    let bytes = 0;
    for (const name of this.base?.listxattr() ?? []) {
      const v = this.base!.getxattr(name);
      if (!v) continue;
      x.set(name, v);
      bytes += name.length + v.length;
    }
    this.charge(bytes);
    return (this.xattrs = x);
  }

  private charge(bytes: number): void {
    if (bytes > 0) chargeMeta(bytes);
    else unchargeMeta(-bytes);
    this.held.bytes += bytes;
  }
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
   * overlay). 'revalidate': every lookup asks the file system, and a cached
   * dentry (in the bounded cache) stays the name's as long as it finds the
   * same object there, so open files and working directories follow the
   * sandbox's renames (bind mounts, which the host may change too). 'none':
   * every lookup asks the file system (/proc).
   */
  readonly cache: 'tree' | 'lru' | 'revalidate' | 'none';
  statfs(): StatFs;
  /** What lseek's SEEK_END, SEEK_DATA and SEEK_HOLE see on this file system's nodes (see Node.seekEnd); 'host' when absent. */
  seekEnd?(node: Node): SeekEnd;
  /** A lookup met a name the file system hides (Node.hides): for an access observer. */
  onHidden?(dir: Location, name: string): void;
}

/**
 * Where SEEK_END, SEEK_DATA and SEEK_HOLE put an open file, as Linux's file
 * operations of the kind: 'host' lets the guest's host object answer (it is
 * the file's own, or behaves as Linux's); 'seq' refuses them (EINVAL, as
 * seq_file's generated files); a number is the size generic_file_llseek
 * counts from (0 for /proc's directories and writable files).
 */
export type SeekEnd = 'host' | 'seq' | number;

/**
 * Node operations that act on an object (stat, setattr, xattrs, readdir)
 * take an optional `via`: present when the call came through a guest fd
 * whose host object is this node's own (see Via).
 */
export abstract class Node {
  abstract readonly fs: FileSystem;
  /** fresh attributes */
  abstract stat(via?: Via): Stat;
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

  /** May `c` access this node (attributes `st`) for `want` (R_OK|W_OK|X_OK)? The mode bits and capabilities (generic_permission), unless the file system has its own rule. */
  permits(c: Creds, st: Stat, want: number): boolean {
    return permitted(c, st.mode, st.uid, st.gid, want);
  }

  /**
   * Whether this file system keeps POSIX ACLs itself (the in-memory ones, as
   * Linux's tmpfs): their xattrs then go through setAcl. Elsewhere they are
   * the host file's, which its kernel keeps.
   */
  keepsAcls(): boolean {
    return false;
  }
  /** set_posix_acl once the caller's checks passed: `acl` (null: none) as `name`'s; `keepSgid`: the caller may leave S_ISGID (posix_acl_update_mode). */
  setAcl(_name: string, _acl: Acl | null, _keepSgid: boolean): void {
    fail('EOPNOTSUPP');
  }
  /** Whether a creation in this directory applies the umask (not where a default ACL replaces it, posix_acl_create). */
  appliesUmask(): boolean {
    return true;
  }

  /** Whether `name` in this directory is a hidden path (SandboxSpec.hidden): it looks absent, and looking is reported. */
  hides(_name: string): boolean {
    return false;
  }

  // Directory operations (names are single components, never "." or "..").
  /**
   * `ahead`: the components the path walk looks up next below `name`, which a
   * file system may look up in the same request (each is still looked up,
   * checked and crossed by the walk, one at a time).
   */
  lookup(_name: string, _ahead?: readonly string[]): Node | null {
    fail('ENOTDIR');
  }
  readdir(_via?: Via): DirEntry[] {
    fail('ENOTDIR');
  }
  create(_name: string, _mode: number, _creds: Creds, _flags: number): Opened & { node: Node } {
    fail('ENOTDIR');
  }
  /** A regular file without a name in this directory (O_TMPFILE), opened with open(2) `flags`; EOPNOTSUPP where the file system has none. */
  tmpfile(_mode: number, _creds: Creds, _flags: number): Opened & { node: Node } {
    fail(this.isDir() ? 'EOPNOTSUPP' : 'ENOTDIR');
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
  /**
   * Opens a directory for the guest: a host fd of the directory itself, or -1
   * when it has none (in-memory and merged directories), for a placeholder.
   */
  openDirectory(_flags: number): number {
    return -1;
  }
  /**
   * For a FIFO of a file system: an O_PATH fd (the node's, not the caller's)
   * of the host FIFO its ends are opened from; -1 for objects open() opens
   * (a pipe's /proc/self/fd link).
   */
  fifo(): number {
    return -1;
  }
  setattr(_attr: SetAttr, _via?: Via): void {
    fail('EPERM');
  }
  getxattr(_name: string, _via?: Via): Buffer | null {
    fail('EOPNOTSUPP');
  }
  listxattr(_via?: Via): string[] {
    return [];
  }
  setxattr(_name: string, _value: Buffer, _flags: number, _via?: Via): void {
    fail('EOPNOTSUPP');
  }
  removexattr(_name: string, _via?: Via): void {
    fail('EOPNOTSUPP');
  }
  /** Called after a rename moved this node's dentry (for nodes that track their own path). */
  moved(_newParent: Node, _newName: string): void {}
  /**
   * Called after the name of this node's dentry was removed (unlink, rmdir,
   * or a rename over it): nodes that stand for a path stop using it.
   */
  detached(): void {}
  /** The path a /proc/[pid]/fd link shows when this node is not in the tree (e.g. "pipe:[123]"). */
  anonName(): string | null {
    return null;
  }
  /** The host file this node is, as (dev major, dev minor, inode), when it is one (a Gofer's); null for the Sentry's own objects. */
  hostObject(): [number, number, number] | null {
    return null;
  }
  /** `other`, a fresh lookup of this node's name, is the same object (for 'revalidate' file systems). */
  sameObject(other: Node): boolean {
    return other === this;
  }
  /** This node stays its name's after a fresh lookup found `other`, the same object; `other` is dropped. */
  revalidated(_other: Node): void {}
  /** Magic links (/proc/[pid]/fd/N, exe, cwd, root) resolve to a location, not a path string. */
  magicLink(): Location | null {
    return null;
  }
  /** How lseek's SEEK_END, SEEK_DATA and SEEK_HOLE behave on an open file of this node (the guest's fd may be a snapshot or a placeholder). */
  seekEnd(): SeekEnd {
    return this.fs.seekEnd?.(this) ?? 'host';
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
  /** its name was removed; a directory that is dead has no children, and nothing can be made in it */
  dead = false;

  constructor(
    public name: string,
    public parent: Dentry | null,
    public node: Node,
  ) {}

  /** Cached child lookup; fills the cache from the node (`ahead`: as Node.lookup). */
  child(name: string, ahead?: readonly string[]): Dentry | null {
    if (this.dead) return null;
    if (this.node.fs.cache === 'revalidate') return this.revalidate(name);
    const cached = this.children.get(name);
    if (cached !== undefined) {
      if (cached) cached.hot = true;
      return cached;
    }
    const node = this.node.lookup(name, ahead);
    const d = node ? new Dentry(name, this, node) : null;
    this.cacheChild(name, d);
    return d;
  }

  /** A lookup on a 'revalidate' file system: fresh, keeping the cached dentry when it still names the same object. */
  private revalidate(name: string): Dentry | null {
    const cached = this.children.get(name);
    // A mount stays where it was put, whatever the host did below it.
    if (cached?.mounted) return cached;
    const node = this.node.lookup(name);
    if (cached) {
      if (node && cached.node.sameObject(node)) {
        cached.node.revalidated(node);
        cached.hot = true;
        return cached;
      }
      // The host removed or replaced it.
      cached.detach();
    }
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
    if (policy === 'none' || (policy !== 'lru' && !d)) return;
    this.children.set(name, d);
    if (policy !== 'tree') dentryCache.note(this, name, d);
  }

  forget(name: string): void {
    this.children.delete(name);
  }

  /** The name of this dentry was removed (the node's other names, fds and mappings keep it). */
  detach(): void {
    if (this.parent?.children.get(this.name) === this) this.parent.forget(this.name);
    this.dead = true;
    this.node.detached();
  }
}

/** What file systems keep for the rest of one path walk (Node.lookup's `ahead`): dropped when the walk ends. */
const walkScoped: (() => void)[] = [];

/** Registers `drop`, run at the end of every path walk. */
export function onWalkEnd(drop: () => void): void {
  walkScoped.push(drop);
}

/** A path walk ended (resolve.ts). */
export function walkEnded(): void {
  for (const drop of walkScoped) drop();
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
  /** strictatime instead of relatime (Docker's /dev) */
  strictatime?: boolean;
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
