// An overlay: a read-only lower tree (the Gofer's export) under an upper tree
// kept in the Sentry's memory (memfs), so the guest can change anything and
// nothing reaches the host.
//
// All state lives in the upper memfs tree: a whiteout is an upper entry of
// the Whiteout class, an opaque directory (one that hides its lower
// counterpart) is listed in `opaque`. OverlayNode objects are views that pair
// an upper node and a lower node, rebuilt from that state on lookup.
import fs from 'node:fs';
import {
  O_ACCMODE,
  O_RDONLY,
  O_TRUNC,
  OVERLAYFS_SUPER_MAGIC,
  RENAME_EXCHANGE,
  S_IFCHR,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  UTIME_OMIT,
  dtypeOf,
} from '../../abi/linux.js';
import type { Stat, StatFs } from '../../abi/structs.js';
import { native } from '../../platform/native.js';
import type { Creds } from '../creds.js';
import { check, fail } from '../errors.js';
import { MemDir, MemFile, MemFs, MemNode, MemSpecial, MemSymlink, anonDev, now, type SpecialOpener } from './memfs.js';
import type { Acl } from './posixacl.js';
import { Dentry, Detached, type DirEntry, type FileSystem, type Location, Node, type Opened, type SetAttr, type Via } from './node.js';

/** Marks a name deleted from the lower layer. */
class Whiteout extends MemNode {
  constructor(fs: MemFs) {
    super(fs, S_IFCHR, 0, 0);
  }
}

/**
 * A whiteout over a hidden path (SandboxSpec.hidden), there from the start:
 * the lower object is out of the guest's reach, and looking it up is
 * reported (OverlayFs.onHidden). The guest may still make the name anew.
 * Not a change the guest made.
 */
export class HiddenWhiteout extends Whiteout {}

export class OverlayFs implements FileSystem {
  readonly dev = anonDev();
  readonly type = 'overlay';
  readonly cache = 'lru';
  readonly upperFs: MemFs;
  readonly opaque = new WeakSet<MemDir>();
  /** Subdirectories added (+) or removed (-) in the upper layer of a merged
   * directory, so its link count stays what Linux would report. */
  readonly subdirDelta = new WeakMap<MemDir, number>();
  /** Upper nodes whose modification time the guest set (utimensat and the like), for changes(). */
  readonly timesSet = new WeakSet<MemNode>();
  readonly root: OverlayNode;

  constructor(
    readonly lowerRoot: Node,
    readonly opener: SpecialOpener,
    /** the upper layer's size (bytes) and nodes (0: the sandbox's budget) */
    size: number,
    inodes = 0,
  ) {
    this.upperFs = new MemFs('tmpfs', size, inodes);
    const st = lowerRoot.stat();
    const lowerRootDentry = new Dentry('', null, lowerRoot);
    const upperRoot = new MemDir(this.upperFs, st.mode, st.uid, st.gid, opener);
    upperRoot.atime = [st.atimeSec, st.atimeNsec];
    upperRoot.mtime = [st.mtimeSec, st.mtimeNsec];
    upperRoot.ctime = [st.ctimeSec, st.ctimeNsec];
    this.root = new OverlayNode(this, null, '', upperRoot, lowerRootDentry);
  }

  /** The names hidden from the start (OverlayNode.hide), by upper directory: what the guest makes there is new, their whiteouts no deletion. */
  private readonly hiddenNames = new WeakMap<MemDir, Set<string>>();

  /** Records that `name` in `dir` is hidden from the start. */
  markHidden(dir: MemDir, name: string): void {
    let names = this.hiddenNames.get(dir);
    if (!names) this.hiddenNames.set(dir, (names = new Set()));
    names.add(name);
  }

  /** Told of each lookup of a hidden name (set for an access observer). */
  onHidden?: (dir: Location, name: string) => void;

  /** As Linux's overlayfs: the upper layer's numbers, what the guest can still write. */
  statfs(): StatFs {
    return { ...this.upperFs.statfs(), type: OVERLAYFS_SUPER_MAGIC };
  }

  /**
   * What the guest changed, path by path, against the lower layer (the
   * host), in path order (a directory before what it holds). Each path is
   * compared with the lower object at the same path, whatever copy-ups,
   * whiteouts and opaque directories brought it there: a copy-up left as it
   * was is no change, a name deleted and made again is compared with the
   * object it replaced. A deleted or created directory is followed by each
   * object below it. `hidden` paths (tsvisor test's secrets, whiteouts
   * from the start) are compared with nothing: their whiteouts are no
   * deletion, what the guest makes there is created. Needs the lower layer
   * (the Gofer) still up.
   */
  *changes(hidden: ReadonlySet<string> = new Set()): Generator<OverlayChange> {
    yield* this.dirChanges(this.root.upper as MemDir, this.lowerRoot, '', hidden);
  }

  private *dirChanges(dir: MemDir, lower: Node | null, prefix: string, hidden: ReadonlySet<string>): Generator<OverlayChange> {
    const names = new Set(dir.entries.keys());
    // An opaque directory hides every lower name it does not hold itself.
    if (lower && this.opaque.has(dir)) for (const e of lower.readdir()) names.add(e.name);
    for (const name of [...names].sort()) {
      const path = `${prefix}/${name}`;
      const u = dir.entries.get(name);
      // A hidden path has no host object for the guest: what it makes there is new (and no diff shows the host's).
      const l = lower && !hidden.has(path) && !this.hiddenNames.get(dir)?.has(name) ? lowerChild(lower, name) : null;
      if (!u || u instanceof Whiteout) {
        if (l) yield* subtree(path, l, 'deleted');
        continue;
      }
      if (!l) {
        yield* subtree(path, u, 'created');
        continue;
      }
      const ue = layerEntry(u);
      const le = layerEntry(l);
      if (ue.type !== le.type) {
        yield { path, kind: 'type', upper: ue, lower: le, attrs: [] };
        if (le.type === S_IFDIR) yield* below(path, l, 'deleted');
        if (ue.type === S_IFDIR) yield* below(path, u, 'created');
        continue;
      }
      const attrs = this.changedAttrs(u, ue, l, le);
      const same = ue.type === S_IFREG ? sameContents(u, ue, l, le) : ue.target === le.target && ue.rdev === le.rdev;
      if (!same) yield { path, kind: 'modified', upper: ue, lower: le, attrs };
      else if (attrs.length) yield { path, kind: 'metadata', upper: ue, lower: le, attrs };
      if (u instanceof MemDir) yield* this.dirChanges(u, l, path, hidden);
    }
  }

  private changedAttrs(u: MemNode, ue: LayerEntry, l: Node, le: LayerEntry): ChangedAttr[] {
    const out: ChangedAttr[] = [];
    if (ue.perm !== le.perm && ue.type !== S_IFLNK) out.push('mode');
    if (ue.uid !== le.uid || ue.gid !== le.gid) out.push('owner');
    // Only a time the guest set: writes and entry changes move it as a consequence.
    if (this.timesSet.has(u) && (ue.mtime[0] !== le.mtime[0] || ue.mtime[1] !== le.mtime[1])) out.push('mtime');
    const ux = u.listxattr().sort();
    const lx = safeListxattr(l).sort();
    if (ux.length !== lx.length || ux.some((x, i) => x !== lx[i] || !u.getxattr(x)!.equals(safeGetxattr(l, x) ?? Buffer.alloc(0)))) out.push('xattrs');
    return out;
  }
}

/** An object of one layer, for OverlayFs.changes(). Sandbox owners. */
export interface LayerEntry {
  node: Node;
  /** the S_IFMT bits */
  type: number;
  /** the permission bits (07777) */
  perm: number;
  uid: number;
  gid: number;
  size: number;
  mtime: [number, number];
  /** a symlink's target */
  target?: string;
  /** a device node's */
  rdev: number;
}

/** Attributes a change may concern besides the contents. */
export type ChangedAttr = 'mode' | 'owner' | 'mtime' | 'xattrs';

/**
 * One path the guest changed. `created`: no lower object there; `deleted`:
 * the lower object is gone; `modified`: the contents (a symlink's target, a
 * device's number) differ; `metadata`: only `attrs` differ; `type`: another
 * kind of object took the lower one's name.
 */
export interface OverlayChange {
  /** the sandbox path */
  path: string;
  kind: 'created' | 'modified' | 'deleted' | 'metadata' | 'type';
  /** what the guest left there (null: deleted) */
  upper: LayerEntry | null;
  /** what the host has there (null: created) */
  lower: LayerEntry | null;
  /** the attributes that differ (modified, metadata) */
  attrs: ChangedAttr[];
}

function lowerChild(dir: Node, name: string): Node | null {
  return dir.isDir() ? dir.lookup(name) : null;
}

function layerEntry(n: Node): LayerEntry {
  const st = n.stat();
  const type = st.mode & S_IFMT;
  const e: LayerEntry = { node: n, type, perm: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size, mtime: [st.mtimeSec, st.mtimeNsec], rdev: st.rdev };
  if (type === S_IFLNK) e.target = n instanceof MemSymlink ? n.target : n.readlink();
  return e;
}

/** Each object of the subtree at `path` (created or deleted), in path order. */
function* subtree(path: string, n: Node, kind: 'created' | 'deleted'): Generator<OverlayChange> {
  const e = layerEntry(n);
  yield kind === 'created' ? { path, kind, upper: e, lower: null, attrs: [] } : { path, kind, upper: null, lower: e, attrs: [] };
  if (e.type === S_IFDIR) yield* below(path, n, kind);
}

function* below(path: string, dir: Node, kind: 'created' | 'deleted'): Generator<OverlayChange> {
  const children = dir instanceof MemDir ? [...dir.entries].filter(([, c]) => !(c instanceof Whiteout)) : dir.readdir().map((e) => [e.name, null] as const);
  for (const [name, c] of children.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const child = c ?? dir.lookup(name);
    if (child) yield* subtree(`${path}/${name}`, child, kind);
  }
}

/** Runs `f` with a read-only host fd of a regular file's contents (either layer's). */
export function withContents<T>(n: Node, f: (fd: number) => T): T {
  const { fd } = n.open(O_RDONLY);
  try {
    return f(fd);
  } finally {
    native.close(fd);
  }
}

const CHUNK = 1 << 16;
let compareBufs: [Buffer, Buffer] | undefined;

function sameContents(u: Node, ue: LayerEntry, l: Node, le: LayerEntry): boolean {
  if (ue.size !== le.size) return false;
  const [a, b] = (compareBufs ??= [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)]);
  return withContents(u, (ufd) =>
    withContents(l, (lfd) => {
      for (let pos = 0; ; pos += CHUNK) {
        const n = fs.readSync(ufd, a, 0, CHUNK, pos);
        const m = fs.readSync(lfd, b, 0, CHUNK, pos);
        if (n !== m || !a.subarray(0, n).equals(b.subarray(0, m))) return false;
        if (n === 0) return true;
      }
    }),
  );
}

export class OverlayNode extends Node {
  /**
   * Set once this name was removed (detached()). A view with an upper node
   * keeps it (detached from the upper tree, as Linux keeps the inode); a view
   * of a lower object alone keeps its attributes here, so nothing it does
   * reaches the upper tree under a name that is no longer its own.
   */
  private removed: { attrs: Detached | null } | null = null;

  constructor(
    readonly fs: OverlayFs,
    private parent: OverlayNode | null,
    private name: string,
    public upper: MemNode | null,
    /**
     * The lower object, as a dentry of the lower tree: lookups below it use
     * that tree's cache (negative entries included), so names already seen,
     * or known absent, cost no Gofer round trip.
     */
    private lowerD: Dentry | null,
  ) {
    super();
  }

  get lower(): Node | null {
    return this.lowerD?.node ?? null;
  }

  /**
   * Picks up an upper node that another view of the same name copied up or
   * created since this view was made (views are rebuilt on lookup, and a
   * task's cwd or an open directory keeps an old one).
   */
  private refresh(): void {
    if (this.upper || !this.parent || this.removed) return;
    this.parent.refresh();
    const u = this.parent.upperDir()?.entries.get(this.name);
    if (u && !(u instanceof Whiteout)) this.upper = u;
  }

  private top(): Node {
    this.refresh();
    return (this.upper ?? this.lower)!;
  }

  get mode(): number {
    return this.top().mode;
  }

  override hostObject(): [number, number, number] | null {
    return this.removed ? null : this.top().hostObject();
  }

  stat(via?: Via): Stat {
    const detached = this.removed?.attrs;
    const s = detached ? detached.stat() : this.top().stat(via);
    s.dev = this.fs.dev;
    if (this.upper && this.lower) {
      // A copied-up object keeps the inode number it had below, as overlayfs does.
      const low = this.lower.stat();
      s.ino = low.ino;
      if (this.upper instanceof MemDir) {
        s.nlink = low.nlink + (this.fs.subdirDelta.get(this.upper) ?? 0);
        s.size = low.size;
        s.blocks = low.blocks;
      }
    }
    return s;
  }

  private adjustSubdirs(dir: MemDir, by: number): void {
    this.fs.subdirDelta.set(dir, (this.fs.subdirDelta.get(dir) ?? 0) + by);
  }

  private upperDir(): MemDir | null {
    return this.upper instanceof MemDir ? this.upper : null;
  }

  override lookup(name: string, ahead?: readonly string[]): Node | null {
    if (!this.isDir()) fail('ENOTDIR');
    this.refresh();
    const ud = this.upperDir();
    const u = ud?.entries.get(name) ?? null;
    if (u instanceof Whiteout) return null;
    const opaque = ud ? this.fs.opaque.has(ud) : false;
    let l: Dentry | null = null;
    if (this.lowerD && !opaque && (!u || u.isDir())) l = this.lowerD.child(name, ahead);
    if (!u && !l) return null;
    if (u && l && !(u.isDir() && l.node.isDir())) l = null;
    if (u instanceof MemDir && this.fs.opaque.has(u)) l = null;
    return new OverlayNode(this.fs, this, name, u, l);
  }

  override hides(name: string): boolean {
    if (!this.isDir()) return false;
    this.refresh();
    return this.upperDir()?.entries.get(name) instanceof HiddenWhiteout;
  }

  /** Hides `name` in this directory from the start (SandboxSpec.hidden): a whiteout in the upper layer. */
  hide(name: string): void {
    const dir = this.copyUpDir();
    if (dir.entries.has(name)) return;
    this.fs.upperFs.mustFit(1);
    dir.insert(name, new HiddenWhiteout(this.fs.upperFs));
    this.fs.markHidden(dir, name);
  }

  override readdir(): DirEntry[] {
    this.refresh();
    const ud = this.upperDir();
    const out = new Map<string, DirEntry>();
    if (this.lower && !(ud && this.fs.opaque.has(ud))) {
      for (const e of this.lower.readdir()) out.set(e.name, e);
    }
    if (ud) {
      for (const [name, n] of ud.entries) {
        if (n instanceof Whiteout) out.delete(name);
        else out.set(name, { name, ino: out.get(name)?.ino ?? n.ino, type: dtypeOf(n.mode) });
      }
    }
    return [...out.values()];
  }

  /** Makes this node exist in the upper layer (copying it up), returns it. */
  copyUp(): MemNode {
    this.refresh();
    if (this.upper) return this.upper;
    const lower = this.lower!;
    const pdir = this.parent!.copyUpDir();
    const st = lower.stat();
    let u: MemNode;
    switch (st.mode & S_IFMT) {
      case S_IFDIR:
        u = new MemDir(this.fs.upperFs, st.mode, st.uid, st.gid, this.fs.opener);
        break;
      case S_IFREG: {
        const src = lower.open(O_RDONLY);
        try {
          // Past the upper layer's size this is ENOSPC, as a copy-up on Linux.
          u = MemFile.filled(this.fs.upperFs, st.mode, st.uid, st.gid, (fd) => check(native.copyFile(fd, src.fd)));
        } finally {
          native.close(src.fd);
        }
        break;
      }
      case S_IFLNK:
        u = new MemSymlink(this.fs.upperFs, lower.readlink(), st.uid, st.gid);
        break;
      default:
        u = new MemSpecial(this.fs.upperFs, st.mode, st.rdev, st.uid, st.gid, this.fs.opener);
    }
    try {
      u.setTimes([st.atimeSec, st.atimeNsec], [st.mtimeSec, st.mtimeNsec]);
      u.ctime = [st.ctimeSec, st.ctimeNsec];
      for (const x of safeListxattr(lower)) {
        const v = lower.getxattr(x);
        if (v) u.putXattr(x, v);
      }
    } catch (e) {
      u.dropLink();
      throw e;
    }
    if (pdir.entries.get(this.name) instanceof Whiteout) pdir.removeEntry(this.name);
    pdir.insert(this.name, u);
    this.upper = u;
    return u;
  }

  private copyUpDir(): MemDir {
    const u = this.copyUp();
    if (!(u instanceof MemDir)) fail('ENOTDIR');
    return u;
  }

  /** Copies a whole subtree up and hides its lower part (before a directory rename). */
  private copyUpTree(): void {
    const u = this.copyUp();
    if (!(u instanceof MemDir) || !this.lower) return;
    for (const e of this.readdir()) {
      const child = this.lookup(e.name) as OverlayNode | null;
      child?.copyUpTree();
    }
    this.fs.opaque.add(u);
    this.lowerD = null;
  }

  /** Before creating `name` here: make room in the upper dir, clearing a whiteout. */
  private prepareCreate(name: string): { dir: MemDir; replacedWhiteout: boolean } {
    const dir = this.copyUpDir();
    const had = dir.entries.get(name);
    if (had instanceof Whiteout) {
      dir.removeEntry(name);
      return { dir, replacedWhiteout: true };
    }
    if (had) fail('EEXIST');
    return { dir, replacedWhiteout: false };
  }

  override create(name: string, mode: number, creds: Creds, flags: number): Opened & { node: Node } {
    const { dir } = this.prepareCreate(name);
    const r = dir.create(name, mode, creds, flags);
    return { ...r, node: new OverlayNode(this.fs, this, name, r.node as MemNode, null) };
  }

  /** In the upper layer, as overlayfs makes it (the view's name is the one /proc/self/fd shows, never looked up). */
  override tmpfile(mode: number, creds: Creds, flags: number): Opened & { node: Node } {
    const r = this.copyUpDir().tmpfile(mode, creds, flags);
    return { ...r, node: new OverlayNode(this.fs, this, `#${(r.node as MemNode).ino}`, r.node as MemNode, null) };
  }

  override mkdir(name: string, mode: number, creds: Creds): Node {
    const { dir, replacedWhiteout } = this.prepareCreate(name);
    const d = dir.mkdir(name, mode, creds) as MemDir;
    // A directory made where a lower one was deleted must not show its old entries.
    if (replacedWhiteout || this.lowerHas(name)) this.fs.opaque.add(d);
    this.adjustSubdirs(dir, 1);
    return new OverlayNode(this.fs, this, name, d, null);
  }

  private lowerHas(name: string): boolean {
    const ud = this.upperDir();
    if (!this.lowerD || (ud && this.fs.opaque.has(ud))) return false;
    return this.lowerD.child(name) !== null;
  }

  override mknod(name: string, mode: number, rdev: number, creds: Creds): Node {
    const { dir } = this.prepareCreate(name);
    return new OverlayNode(this.fs, this, name, dir.mknod(name, mode, rdev, creds) as MemNode, null);
  }

  override symlink(name: string, target: string, creds: Creds): Node {
    const { dir } = this.prepareCreate(name);
    return new OverlayNode(this.fs, this, name, dir.symlink(name, target, creds) as MemNode, null);
  }

  override link(name: string, target: Node): void {
    if (!(target instanceof OverlayNode) || target.fs !== this.fs) fail('EXDEV');
    const t = target.copyUp();
    const { dir } = this.prepareCreate(name);
    dir.link(name, t);
  }

  /** Removes `name` from the merged view. */
  private remove(name: string, child: OverlayNode, isDir: boolean): void {
    const dir = this.copyUpDir();
    // The lower layer has the name even when this view does not show it (an
    // object made over a whiteout, an opaque directory): it stays hidden.
    const hidesLower = child.lower !== null || this.lowerHas(name);
    // The whiteout must fit before anything is removed.
    if (hidesLower && !child.upper) this.fs.upperFs.mustFit(1);
    if (child.upper) {
      if (isDir) {
        // Its merged view is empty (checked by rmdir); drop whiteouts left inside.
        const inner = child.upper as MemDir;
        for (const n of [...inner.entries.keys()]) inner.removeEntry(n);
        dir.rmdir(name, child.upper);
      } else {
        dir.unlink(name, child.upper);
      }
    }
    if (hidesLower) dir.insert(name, new Whiteout(this.fs.upperFs));
  }

  override unlink(name: string, child: Node): void {
    if (!(child instanceof OverlayNode)) fail('ENOENT');
    if (child.isDir()) fail('EISDIR');
    this.remove(name, child, false);
  }

  override rmdir(name: string, child: Node): void {
    if (!(child instanceof OverlayNode)) fail('ENOENT');
    if (!child.isDir()) fail('ENOTDIR');
    if (child.readdir().length) fail('ENOTEMPTY');
    this.remove(name, child, true);
    this.adjustSubdirs(this.copyUpDir(), -1);
  }

  override rename(oldName: string, newDir: Node, newName: string, flags: number): void {
    if (!(newDir instanceof OverlayNode) || newDir.fs !== this.fs) fail('EXDEV');
    const src = this.lookup(oldName) as OverlayNode | null;
    if (!src) fail('ENOENT');
    const dst = newDir.lookup(newName) as OverlayNode | null;
    if (flags & RENAME_EXCHANGE) return this.exchange(oldName, src, newDir, newName, dst);
    if (dst && dst.isDir()) {
      if (!src.isDir()) fail('EISDIR');
      if (dst.readdir().length) fail('ENOTEMPTY');
    } else if (dst && src.isDir()) {
      fail('ENOTDIR');
    }
    if (src.isDir()) src.copyUpTree();
    else src.copyUp();
    const from = this.copyUpDir();
    const to = newDir.copyUpDir();
    // The whiteout left behind must fit before anything moves.
    this.fs.upperFs.mustFit(1);
    const hadLowerSrc = src.lower !== null || this.lowerHas(oldName);
    const hadLowerDst = dst?.lower !== null && dst?.lower !== undefined;
    if ((dst && !dst.upper) || to.entries.get(newName) instanceof Whiteout) {
      // A target that exists only below is replaced, so no whiteout is needed under the new entry.
      to.removeEntry(newName);
    }
    from.rename(oldName, to, newName, flags);
    if (src.isDir() && from !== to) {
      this.adjustSubdirs(from, -1);
      if (!dst) newDir.adjustSubdirs(to, 1);
    } else if (src.isDir() && dst && from === to) {
      this.adjustSubdirs(from, -1);
    }
    if (hadLowerSrc) from.insert(oldName, new Whiteout(this.fs.upperFs));
    const moved = to.entries.get(newName);
    if (moved instanceof MemDir && (hadLowerDst || src.isDir())) this.fs.opaque.add(moved);
  }

  /**
   * RENAME_EXCHANGE: both objects move up whole (directories with their
   * contents, opaque), so each name shows exactly the other's object and no
   * whiteout is needed (both names still exist).
   */
  private exchange(oldName: string, src: OverlayNode, newDir: OverlayNode, newName: string, dst: OverlayNode | null): void {
    if (!dst) fail('ENOENT');
    for (const n of [src, dst]) {
      if (n.isDir()) n.copyUpTree();
      else n.copyUp();
    }
    const from = this.copyUpDir();
    const to = newDir.copyUpDir();
    from.rename(oldName, to, newName, RENAME_EXCHANGE);
    if (from !== to && src.isDir() !== dst.isDir()) {
      const d = src.isDir() ? 1 : -1;
      this.adjustSubdirs(from, -d);
      newDir.adjustSubdirs(to, d);
    }
  }

  override fifo(): number {
    return this.top().fifo();
  }

  override readlink(): string {
    return this.top().readlink();
  }

  override open(flags: number): Opened {
    const acc = flags & O_ACCMODE;
    if (acc !== O_RDONLY || flags & O_TRUNC) return this.copyUp().open(flags);
    return this.top().open(flags);
  }

  override setattr(a: SetAttr, via?: Via): void {
    const detached = this.removed?.attrs;
    if (detached) return detached.setattr(a, now());
    const u = this.copyUp();
    u.setattr(a, via);
    if (a.mtime && a.mtime[1] !== UTIME_OMIT) this.fs.timesSet.add(u);
  }

  override getxattr(name: string): Buffer | null {
    const detached = this.removed?.attrs;
    return detached ? detached.getxattr(name) : this.top().getxattr(name);
  }
  override listxattr(): string[] {
    const detached = this.removed?.attrs;
    return detached ? detached.listxattr() : this.top().listxattr();
  }
  override setxattr(name: string, value: Buffer, flags: number): void {
    const detached = this.removed?.attrs;
    if (detached) detached.setxattr(name, value, flags);
    else this.copyUp().setxattr(name, value, flags);
  }
  override removexattr(name: string): void {
    const detached = this.removed?.attrs;
    if (detached) detached.removexattr(name);
    else this.copyUp().removexattr(name);
  }

  /** A removed lower-only object keeps its xattrs as they are (Detached). */
  override keepsAcls(): boolean {
    return !this.removed?.attrs;
  }
  override setAcl(name: string, acl: Acl | null, keepSgid: boolean): void {
    this.copyUp().setAcl(name, acl, keepSgid);
  }
  /** (A lower directory is copied up with its default ACL before a creation in it.) */
  override appliesUmask(): boolean {
    return this.top().appliesUmask();
  }
  override permits(c: Creds, st: Stat, want: number): boolean {
    const detached = this.removed?.attrs;
    return detached ? super.permits(c, st, want) : this.top().permits(c, st, want);
  }

  override moved(newParent: Node, newName: string): void {
    if (!(newParent instanceof OverlayNode)) return;
    this.parent = newParent;
    this.name = newName;
  }

  override detached(): void {
    if (this.removed) return;
    this.refresh();
    let attrs: Detached | null = null;
    if (!this.upper && this.lower) {
      const st = this.lower.stat();
      st.nlink = 0;
      [st.ctimeSec, st.ctimeNsec] = now();
      attrs = new Detached(st, this.lower);
    }
    this.removed = { attrs };
  }
}

function safeListxattr(n: Node): string[] {
  try {
    return n.listxattr();
  } catch {
    return [];
  }
}

function safeGetxattr(n: Node, name: string): Buffer | null {
  try {
    return n.getxattr(name);
  } catch {
    return null;
  }
}
