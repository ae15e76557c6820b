// A file system served by the Gofer: the container root or a bind mount.
//
// Each node the Sentry has looked up holds an O_PATH fd the Gofer handed
// over, so attributes are read fresh with one fstat (guest writes go to host
// fds natively and change sizes and times behind the Sentry's back) and
// symlink targets come with the lookup. Everything that opens or changes
// host files is a Gofer request by path relative to the export.
import {
  ACL_UNDEFINED_ID,
  AT_EMPTY_PATH,
  XATTR_POSIX_ACL_ACCESS,
  XATTR_POSIX_ACL_DEFAULT,
  DT_UNKNOWN,
  NAME_MAX,
  O_ACCMODE,
  O_CLOEXEC,
  O_CREAT,
  O_NOCTTY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_TRUNC,
  O_DIRECTORY,
  O_PATH,
  O_RDONLY,
  S_IFIFO,
  S_IFMT,
  UNMAPPED_ID,
  UTIME_OMIT,
  makedev,
} from '../../abi/linux.js';
import { ERRNO } from '../../abi/errno.js';
import type { Stat, StatFs } from '../../abi/structs.js';
import type { GoferClient, WalkEntry } from '../../gofer/client.js';
import { MAX_XATTR_BYTES } from '../../gofer/protocol.js';
import { STATX, STATX_FIELDS, native } from '../../platform/native.js';
import type { Creds } from '../creds.js';
import { check, fail, ownFd, sysErr } from '../errors.js';
import { BoundedLru } from '../lru.js';
import type { IdMap } from '../idmap.js';
import { Detached, type DirEntry, type FileSystem, Node, type Opened, type SetAttr, type Via, onWalkEnd } from './node.js';
import { NO_BYTES, now } from './memfs.js';
import { type Acl, aclPermitted, decodeAcl, isAclName, mapAclIds } from './posixacl.js';
import { openHeldInode } from './storage.js';

/** Gofer replies are a value or a negative errno. */
function ok<T>(r: T | number): T {
  if (typeof r === 'number' && r < 0) throw sysErr(-r);
  return r as T;
}

export function statFromStatx(x: Float64Array): Stat {
  return {
    dev: makedev(x[STATX.devMajor]!, x[STATX.devMinor]!),
    ino: x[STATX.ino]!,
    mode: x[STATX.mode]!,
    nlink: x[STATX.nlink]!,
    uid: x[STATX.uid]!,
    gid: x[STATX.gid]!,
    rdev: makedev(x[STATX.rdevMajor]!, x[STATX.rdevMinor]!),
    size: x[STATX.size]!,
    blksize: x[STATX.blksize]!,
    blocks: x[STATX.blocks]!,
    atimeSec: x[STATX.atimeSec]!,
    atimeNsec: x[STATX.atimeNsec]!,
    mtimeSec: x[STATX.mtimeSec]!,
    mtimeNsec: x[STATX.mtimeNsec]!,
    ctimeSec: x[STATX.ctimeSec]!,
    ctimeNsec: x[STATX.ctimeNsec]!,
    btimeSec: x[STATX.btimeSec]!,
    btimeNsec: x[STATX.btimeNsec]!,
  };
}

const SETATTR_MODE = 1;
const SETATTR_UID = 2;
const SETATTR_GID = 4;
const SETATTR_SIZE = 8;
const SETATTR_ATIME = 16;
const SETATTR_MTIME = 32;

export class GoferFs implements FileSystem {
  readonly type: string;
  readonly cache: 'lru' | 'revalidate';
  readonly root: GoferNode;
  /** st_dev of the export root on the host, what this file system reports */
  readonly dev: number;

  constructor(
    readonly client: GoferClient,
    readonly exportId: number,
    /** lookups may be cached: the export is the sandbox's alone (the root) */
    cacheable: boolean,
    /** file owners between the sandbox and the host */
    readonly ids: IdMap,
    type = 'ext4',
  ) {
    this.type = type;
    this.cache = cacheable ? 'lru' : 'revalidate';
    // The root of a file export (a bind-mounted file) is that file.
    const o = ok(client.open(exportId, '', O_PATH, 0, 0, 0));
    const st = statFromStatx(o.stat);
    this.dev = st.dev;
    this.root = new GoferNode(this, null, '', o.fd, o.stat, undefined);
  }

  statfs(): StatFs {
    return this.root.statfs();
  }
}

const sx = new Float64Array(STATX_FIELDS);

/**
 * Nodes holding an O_PATH fd of a looked-up host file (the export roots'
 * aside), least recently used first; past the bound (set from the Sentry's own
 * fd limit at start) the oldest lets its fd go and walks again when it needs one.
 */
const withFd = new BoundedLru<GoferNode, true>(4096, (n) => n.release());

export function setGoferFdCacheMax(n: number): void {
  withFd.max = n;
}

/**
 * Names of directories of a cacheable export, listed once a second name was
 * missing there, so that further missing names (a module loader's and an
 * interpreter's search paths: most of a Node or Python start-up's failed
 * lookups) are answered without a Gofer round trip. A listing stands for the
 * negative dentries of every name it lacks, with their lifetime: the export
 * changes only through the Sentry (names it adds are added), as the dentry
 * cache already assumes for 'lru' file systems. Bounded: a directory of more
 * than LISTING_MAX names is never listed, and past LISTINGS_NAMES_MAX names
 * in all the oldest listings are dropped (lookups then ask the Gofer again).
 */
const LISTING_MAX = 4096;
const LISTINGS_NAMES_MAX = 1 << 16;
/** Missing names a directory has before it is listed. */
const MISSES_BEFORE_LISTING = 2;
/** Listed directories, oldest first. */
const listings = new Set<GoferNode>();
let listedNames = 0;

/** Counts `count` more listed names, dropping the oldest listings past the bound. */
function countListed(count: number): void {
  listedNames += count;
  while (listedNames > LISTINGS_NAMES_MAX) listings.values().next().value!.dropListing();
}

/**
 * A lookup walks the components its path walk looks up next (Node.lookup's
 * `ahead`, at most WALK_AHEAD_MAX) in the same Gofer request, one round trip
 * instead of one a component. What it found below the name looked up waits
 * here for the walk's next lookups, which take it in order, each as its own
 * lookup would have found it (the Gofer walks each component as alone:
 * beneath the last, no symlink followed, a symlink or file ending the walk).
 * One such walk waits at a time, and only during its path walk: any other
 * lookup, or the end of the path walk, closes its fds.
 */
const WALK_AHEAD_MAX = 16;
interface WalkedAhead {
  /** the node the next entry is a child of */
  dir: GoferNode;
  names: readonly string[];
  entries: WalkEntry[];
  stopErrno: number;
  /** index of the next entry to take */
  next: number;
}
let walkedAhead: WalkedAhead | null = null;

/** The components of `ahead` a Gofer walk can take (single names), up to the first that is not. */
function namesAhead(ahead: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const n of ahead ?? []) {
    if (out.length >= WALK_AHEAD_MAX || n === '.' || n === '..' || n.length > NAME_MAX) break;
    out.push(n);
  }
  return out;
}

/** Keeps what the walk of `names` found below `node` (its first entry) for the walk's next lookups. */
function keepWalkedAhead(node: GoferNode, names: readonly string[], entries: WalkEntry[], stopErrno: number): void {
  dropWalkedAhead();
  walkedAhead = { dir: node, names, entries, stopErrno, next: 1 };
  if (!aheadLeft(walkedAhead)) dropWalkedAhead();
}

/** Whether a lookup can still take something from `a`: an entry, or the missing name the walk stopped at. */
function aheadLeft(a: WalkedAhead): boolean {
  return a.next < a.names.length && (a.next < a.entries.length || (a.next === a.entries.length && a.stopErrno === ERRNO.ENOENT));
}

/**
 * What the kept walk found for `name` in `dir`: its node, null when the walk
 * found it missing, undefined when it has nothing for it (then it is dropped).
 */
function takeWalkedAhead(dir: GoferNode, name: string): GoferNode | null | undefined {
  const a = walkedAhead;
  if (!a) return undefined;
  if (a.dir !== dir || a.names[a.next] !== name) {
    dropWalkedAhead();
    return undefined;
  }
  const e = a.entries[a.next++];
  if (!e) {
    walkedAhead = null;
    return null;
  }
  const node = new GoferNode(dir.fs, dir, name, e.fd, e.stat, undefined);
  e.fd = -1;
  a.dir = node;
  if (!node.isDir() || !aheadLeft(a)) dropWalkedAhead();
  return node;
}

/** Closes the fds of what the kept walk found that no lookup took. */
function dropWalkedAhead(): void {
  const a = walkedAhead;
  if (!a) return;
  walkedAhead = null;
  for (let i = a.next; i < a.entries.length; i++) if (a.entries[i]!.fd >= 0) native.close(a.entries[i]!.fd);
}
onWalkEnd(dropWalkedAhead);

const statfsBuf = new Float64Array(12);
const direntBuf = Buffer.alloc(64 * 1024);
const xattrBuf = Buffer.alloc(MAX_XATTR_BYTES);

/** The entries of the open directory `fd` (read from its current offset), "." and ".." left out. */
function readEntries(fd: number): DirEntry[] {
  const out: DirEntry[] = [];
  for (;;) {
    const n = check(native.getdents(fd, direntBuf));
    if (n === 0) return out;
    for (let off = 0; off < n; ) {
      const reclen = direntBuf.readUInt16LE(off + 16);
      const type = direntBuf.readUInt8(off + 18);
      const end = direntBuf.indexOf(0, off + 19);
      const name = direntBuf.toString('latin1', off + 19, end);
      if (name !== '.' && name !== '..') {
        out.push({ name, ino: Number(direntBuf.readBigUInt64LE(off)), type: type || DT_UNKNOWN });
      }
      off += reclen;
    }
  }
}

/**
 * A POSIX ACL's value with its named users and groups taken from the
 * sandbox's ids to the host's, EINVAL for one no mapping covers (as
 * posix_acl_from_xattr); and back, an uncovered host id showing as -1
 * (posix_acl_to_xattr's from_kuid, not the overflow id).
 */
function aclToHost(ids: IdMap, value: Buffer): Buffer {
  return mapAclIds(value, (kind, id) => {
    const h = ids.hostId(kind, id);
    if (h < 0) fail('EINVAL');
    return h;
  });
}
function aclFromHost(ids: IdMap, value: Buffer): Buffer {
  return mapAclIds(value, (kind, id) => {
    if (!ids.mapsHost(kind, id)) return ACL_UNDEFINED_ID;
    return kind === 'uid' ? ids.uidFromHost(id) : ids.gidFromHost(id);
  });
}

/** Reads an xattr of the object behind `fd`; null when it has none of that name. */
function fdGetxattr(fd: number, name: string): Buffer | null {
  const n = native.getxattrFd(fd, name, xattrBuf);
  if (n === -61 /* ENODATA */) return null;
  return Buffer.from(xattrBuf.subarray(0, check(n)));
}

export class GoferNode extends Node {
  /**
   * Set once the node's name was removed (detached()): its path names
   * something else or nothing, so the node keeps what it last was. Calls
   * through an fd of the object itself (Via) still reach it.
   */
  private removed: { attrs: Detached; key: [number, number, number] } | null = null;

  private typeAndMode: number;
  /** a directory's names (see `listings`); null until listed, or too large to list */
  private names: Set<string> | null = null;
  /** missing names looked up here, until listed (-1: never list it) */
  private misses = 0;
  /** the host object's (dev major, dev minor, inode), as the Gofer last reported it */
  private ident: [number, number, number];
  /** its access ACL (accessAcl) and the ctime it was read at */
  private acl: { ctime: [number, number]; acl: Acl | null } | null = null;

  constructor(
    readonly fs: GoferFs,
    public parent: GoferNode | null,
    public name: string,
    /** O_PATH fd from the Gofer; -1 until first needed */
    private opath: number,
    /** the object's statx as the Gofer reported it */
    stat: Float64Array,
    private target: string | undefined,
  ) {
    super();
    this.typeAndMode = stat[STATX.mode]!;
    this.ident = [stat[STATX.devMajor]!, stat[STATX.devMinor]!, stat[STATX.ino]!];
    if (opath >= 0 && parent) withFd.set(this, true);
  }

  override hostObject(): [number, number, number] | null {
    return this.removed ? null : this.ident;
  }

  /**
   * generic_permission with the host object's access ACL, which the host
   * does not apply for the guest (the Gofer opens as its root). Linux reads
   * it only for a caller other than the owner and a mode with group bits.
   */
  override permits(c: Creds, st: Stat, want: number): boolean {
    if (want === 0 || c.fsuid === st.uid || !(st.mode & 0o070) || this.isSymlink()) return super.permits(c, st, want);
    return aclPermitted(c, st, want, this.accessAcl(st));
  }

  /** posix_acl_create: no umask in a host directory with a default ACL (the host applies the ACL to the mode it is given). */
  override appliesUmask(): boolean {
    const fd = this.fd();
    return fd < 0 || native.getxattrFd(fd, XATTR_POSIX_ACL_DEFAULT, NO_BYTES) < 0;
  }

  /** The access ACL, read again when the ctime `st` shows is not the one it was read at (setting an ACL changes it). */
  private accessAcl(st: Stat): Acl | null {
    const seen = this.acl;
    if (seen && seen.ctime[0] === st.ctimeSec && seen.ctime[1] === st.ctimeNsec) return seen.acl;
    let v: Buffer | null;
    try {
      // through the node's own O_PATH fd where it has one (as its stat): no Gofer round trip
      const fd = this.fd();
      v = fd >= 0 ? fdGetxattr(fd, XATTR_POSIX_ACL_ACCESS) : this.getxattr(XATTR_POSIX_ACL_ACCESS);
      if (v && fd >= 0) v = aclFromHost(this.fs.ids, v);
    } catch {
      // a host file system without ACLs (EOPNOTSUPP): the mode decides
      v = null;
    }
    this.acl = { ctime: [st.ctimeSec, st.ctimeNsec], acl: v ? decodeAcl(v) : null };
    return this.acl.acl;
  }

  /** `other` (a fresh lookup of this node's name) is the same host object. */
  override sameObject(other: Node): boolean {
    return other instanceof GoferNode && other.ident.every((v, i) => v === this.ident[i]);
  }

  /** Takes what a fresh lookup of the same object found (its O_PATH fd, mode, target); `other` is dropped. */
  override revalidated(other: Node): void {
    if (!(other instanceof GoferNode)) return;
    this.typeAndMode = other.typeAndMode;
    if (this.opath < 0 && other.opath >= 0) {
      this.opath = other.opath;
      other.opath = -1;
      withFd.delete(other);
      withFd.set(this, true);
    } else {
      other.release();
    }
  }

  get mode(): number {
    return this.typeAndMode;
  }

  /** path relative to the export root */
  rel(): string {
    if (!this.parent) return '';
    const p = this.parent.rel();
    return p ? `${p}/${this.name}` : this.name;
  }

  private childRel(name: string): string {
    const p = this.rel();
    return p ? `${p}/${name}` : name;
  }

  private get client(): GoferClient {
    return this.fs.client;
  }

  /** The fresh walk entry for this node. */
  private walkSelf(): WalkEntry {
    const w = ok(this.client.walk(this.fs.exportId, this.parent!.rel(), [this.name]));
    const e = w.entries[0];
    if (!e) throw sysErr(w.stopErrno || 2);
    return e;
  }

  /**
   * The O_PATH fd, fetched from the Gofer when this node was made without one
   * (nodes the Sentry just created). The export root always has one; device
   * nodes never do (the Gofer does not hand out fds that could reopen a host
   * device): -1.
   */
  fd(): number {
    if (!this.parent) return this.opath;
    if (this.removed) return -1;
    if (this.opath < 0) {
      const e = this.walkSelf();
      this.opath = e.fd;
      this.typeAndMode = e.stat[STATX.mode]!;
      this.ident = [e.stat[STATX.devMajor]!, e.stat[STATX.devMinor]!, e.stat[STATX.ino]!];
      if (this.opath < 0) return -1;
    }
    withFd.set(this, true);
    return this.opath;
  }

  stat(via?: Via): Stat {
    if (via) return this.fromHost(via.sx);
    if (this.removed) return this.held((fd) => this.fromHost((check(native.statxFd(fd, sx)), sx))) ?? this.removed.attrs.stat();
    return this.fromHost(this.hostStat());
  }

  /**
   * Runs `f` on an O_PATH fd of the object of a removed node, reached
   * through a guest process's fd or mapping of it; null when none holds it.
   */
  private held<T>(f: (fd: number) => T): T | null {
    const [major, minor, ino] = this.removed!.key;
    if (ino < 0) return null;
    const fd = openHeldInode(major, minor, ino, O_PATH);
    if (fd < 0) return null;
    try {
      return f(fd);
    } finally {
      native.close(fd);
    }
  }

  /** Fresh statx of the object at this node's path. */
  private hostStat(): Float64Array {
    const fd = this.fd();
    return fd >= 0 ? (check(native.statxFd(fd, sx)), sx) : this.walkSelf().stat;
  }

  /** A host statx as the sandbox sees it (owners mapped). */
  private fromHost(x: Float64Array): Stat {
    const st = statFromStatx(x);
    this.typeAndMode = st.mode;
    st.uid = this.fs.ids.mapsHost('uid', st.uid) ? this.fs.ids.uidFromHost(st.uid) : UNMAPPED_ID;
    st.gid = this.fs.ids.mapsHost('gid', st.gid) ? this.fs.ids.gidFromHost(st.gid) : UNMAPPED_ID;
    return st;
  }

  /** The host owner of a file `creds` make here. */
  private hostOwner(creds: Creds): [number, number] {
    return [this.fs.ids.uidToHost(creds.fsuid), this.fs.ids.gidToHost(this.childGid(creds))];
  }

  override lookup(name: string, ahead?: readonly string[]): Node | null {
    if (this.names && !this.names.has(name)) return null;
    const found = takeWalkedAhead(this, name);
    if (found === null) this.missed();
    if (found !== undefined) return found;
    const names = [name, ...(this.fs.cache === 'lru' ? namesAhead(ahead) : [])];
    let r = names.length > 1 ? this.client.walk(this.fs.exportId, this.rel(), names) : -1;
    // What the walk has not reached yet must not fail it (a name the protocol cannot carry).
    if (typeof r === 'number') r = this.client.walk(this.fs.exportId, this.rel(), [name]);
    const w = ok(r);
    const e = w.entries[0];
    if (!e) {
      if (w.stopErrno === ERRNO.ENOENT) {
        this.missed();
        return null;
      }
      throw sysErr(w.stopErrno || 5);
    }
    const node = new GoferNode(this.fs, this, name, e.fd, e.stat, undefined);
    keepWalkedAhead(node, names, w.entries, w.stopErrno);
    return node;
  }

  /**
   * A name was missing here: on the MISSES_BEFORE_LISTING-th, lists the
   * directory through the O_PATH fd it holds (no path is walked, no Gofer
   * round trip). Only on a cacheable export, and never once it failed.
   */
  private missed(): void {
    if (this.names || this.misses < 0 || this.fs.cache !== 'lru' || ++this.misses < MISSES_BEFORE_LISTING) return;
    this.misses = -1;
    if (this.removed || this.opath < 0) return;
    const fd = native.openat2(this.opath, '.', O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0);
    if (fd < 0) return;
    let entries: DirEntry[];
    try {
      entries = readEntries(fd);
    } catch {
      return;
    } finally {
      native.close(fd);
    }
    if (entries.length > LISTING_MAX) return;
    this.names = new Set(entries.map((e) => e.name));
    listings.add(this);
    countListed(this.names.size);
  }

  /** A name the Sentry made here is one the listing must have. */
  private added(name: string): void {
    if (!this.names || this.names.has(name)) return;
    this.names.add(name);
    countListed(1);
  }

  /** Forgets the listing (the bound on listed names, or the node left the cache). */
  dropListing(): void {
    if (!this.names) return;
    listedNames -= this.names.size;
    listings.delete(this);
    this.names = null;
  }

  override readdir(via?: Via): DirEntry[] {
    // The guest's own directory fd, reopened for an offset of our own; else the Gofer's.
    const fd = via ? native.reopen(via.fd, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : ok(this.client.open(this.fs.exportId, this.rel(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0)).fd;
    try {
      return readEntries(ownFd(fd));
    } finally {
      native.close(fd);
    }
  }

  override openDirectory(flags: number): number {
    const f = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (flags & O_NONBLOCK);
    if (this.removed) {
      // A removed directory (a task's cwd, an fd's /proc/self/fd/N): through a guest's fd of it.
      const fd = this.held((p) => native.reopen(p, f));
      if (fd === null) throw sysErr(2 /* ENOENT */);
      return ownFd(fd);
    }
    // Opens the inode the Gofer resolved ("." of its O_PATH fd: no path is
    // walked), keeping the guest's O_NOFOLLOW, which F_GETFL shows.
    return ownFd(native.openat2(this.fd(), '.', f | (flags & O_NOFOLLOW), 0, 0));
  }

  override create(name: string, mode: number, creds: Creds, flags: number): Opened & { node: Node } {
    const o = ok(this.client.open(this.fs.exportId, this.childRel(name), flags | 0o100 /* O_CREAT */ | 0o200 /* O_EXCL */, mode, ...this.hostOwner(creds)));
    this.added(name);
    return { fd: o.fd, created: o.created, node: new GoferNode(this.fs, this, name, -1, o.stat, undefined) };
  }

  /** BSD group semantics when the directory is set-gid. */
  private childGid(creds: Creds): number {
    const st = this.stat();
    return st.mode & 0o2000 ? st.gid : creds.fsgid;
  }

  override mkdir(name: string, mode: number, creds: Creds): Node {
    const sgid = this.stat().mode & 0o2000;
    const r = ok(this.client.mkdir(this.fs.exportId, this.childRel(name), mode | sgid, ...this.hostOwner(creds)));
    this.added(name);
    return new GoferNode(this.fs, this, name, -1, r.stat, undefined);
  }

  override mknod(name: string, mode: number, _rdev: number, creds: Creds): Node {
    const r = ok(this.client.mknod(this.fs.exportId, this.childRel(name), mode, ...this.hostOwner(creds)));
    this.added(name);
    return new GoferNode(this.fs, this, name, -1, r.stat, undefined);
  }

  override symlink(name: string, target: string, creds: Creds): Node {
    const r = ok(this.client.symlink(this.fs.exportId, this.childRel(name), target, ...this.hostOwner(creds)));
    this.added(name);
    return new GoferNode(this.fs, this, name, -1, r.stat, target);
  }

  override link(name: string, target: Node): void {
    if (!(target instanceof GoferNode) || target.fs !== this.fs) throw sysErr(18 /* EXDEV */);
    ok(this.client.link(this.fs.exportId, target.rel(), this.childRel(name)));
    this.added(name);
  }

  override unlink(name: string, _child: Node): void {
    ok(this.client.unlink(this.fs.exportId, this.childRel(name), false));
  }

  override rmdir(name: string, _child: Node): void {
    ok(this.client.unlink(this.fs.exportId, this.childRel(name), true));
  }

  override detached(): void {
    if (this.removed || !this.parent) return;
    // The O_PATH fd, if the node still has one, shows the object as it is
    // now, its name gone (nlink, ctime); its target, for a symlink.
    const x = this.opath >= 0 && native.statxFd(this.opath, sx) === 0 ? sx : null;
    if (x && this.target === undefined && this.isSymlink()) {
      const t = native.readlinkat(this.opath, '');
      if (typeof t === 'string') this.target = t;
    }
    const st: Stat = x
      ? this.fromHost(x)
      : { ...statFromStatx(new Float64Array(STATX_FIELDS)), mode: this.typeAndMode, nlink: 0 };
    this.removed = { attrs: new Detached(st), key: this.ident };
    this.dropListing();
    this.release();
  }

  override rename(oldName: string, newDir: Node, newName: string, flags: number): void {
    if (!(newDir instanceof GoferNode) || newDir.fs !== this.fs) throw sysErr(18 /* EXDEV */);
    ok(this.client.rename(this.fs.exportId, this.childRel(oldName), newDir.childRel(newName), flags));
    newDir.added(newName);
  }

  override moved(newParent: Node, newName: string): void {
    if (!(newParent instanceof GoferNode)) return;
    this.parent = newParent;
    this.name = newName;
  }

  override readlink(): string {
    if (this.target === undefined) {
      // Through the O_PATH fd the Gofer resolved: no path is walked.
      const fd = this.fd();
      const t = fd >= 0 ? native.readlinkat(fd, '') : this.removed ? -2 /* ENOENT */ : ok(this.client.readlink(this.fs.exportId, this.rel()));
      if (typeof t === 'number') throw sysErr(-t);
      this.target = t;
    }
    return this.target;
  }

  override fifo(): number {
    const fd = this.fd();
    if (fd < 0 || (this.typeAndMode & S_IFMT) !== S_IFIFO) fail('ENXIO');
    return fd;
  }

  override open(flags: number): Opened {
    if (this.removed) {
      // A reopen (/proc/self/fd/N) of a file whose name is gone: through a guest's fd of it.
      const [major, minor, ino] = this.removed.key;
      return { fd: ownFd(openHeldInode(major, minor, ino, (flags & ~(O_CREAT | O_TRUNC | O_NOFOLLOW)) | O_NOCTTY)) };
    }
    // A read-only open of a regular file reopens the inode behind the O_PATH
    // fd the Gofer already resolved (no path walk, so nothing can leave the
    // export): a Gofer round trip saved on the hottest file operation.
    // Anything that writes, creates or truncates goes to the Gofer, which
    // enforces read-only exports.
    if ((flags & (O_ACCMODE | O_TRUNC | O_CREAT)) === O_RDONLY && this.isRegular() && this.parent) {
      const fd = native.reopen(this.fd(), (flags & ~(O_CLOEXEC | O_NOFOLLOW)) | O_NOCTTY);
      if (fd >= 0) return { fd };
    }
    const o = ok(this.client.open(this.fs.exportId, this.rel(), flags & ~O_CLOEXEC, 0, 0, 0));
    return { fd: o.fd };
  }

  override setattr(a: SetAttr, via?: Via): void {
    if (via) return this.setattrFd(via.fd, a);
    if (this.removed) {
      if (this.held((fd) => this.setattrFd(fd, a)) === null) this.removed.attrs.setattr(a, now());
      return;
    }
    let mask = 0;
    if (a.mode !== undefined) mask |= SETATTR_MODE;
    if (a.uid !== undefined && a.uid !== -1) mask |= SETATTR_UID;
    if (a.gid !== undefined && a.gid !== -1) mask |= SETATTR_GID;
    if (a.size !== undefined) mask |= SETATTR_SIZE;
    if (a.atime && a.atime[1] !== UTIME_OMIT) mask |= SETATTR_ATIME;
    if (a.mtime && a.mtime[1] !== UTIME_OMIT) mask |= SETATTR_MTIME;
    if (!mask) return;
    const at = a.atime ?? [0, UTIME_OMIT];
    const mt = a.mtime ?? [0, UTIME_OMIT];
    const uid = a.uid === undefined || a.uid === -1 ? -1 : this.fs.ids.uidToHost(a.uid);
    const gid = a.gid === undefined || a.gid === -1 ? -1 : this.fs.ids.gidToHost(a.gid);
    ok(this.client.setattr(this.fs.exportId, this.rel(), mask, a.mode ?? 0, uid, gid, a.size ?? 0, at[0], at[1], mt[0], mt[1]));
    if (a.mode !== undefined) this.typeAndMode = (this.typeAndMode & S_IFMT) | (a.mode & 0o7777);
  }

  /** setattr on the guest's fd of the object itself (the caller checked the mount and the guest's rights). */
  private setattrFd(fd: number, a: SetAttr): void {
    const uid = a.uid === undefined || a.uid === -1 ? -1 : this.fs.ids.uidToHost(a.uid);
    const gid = a.gid === undefined || a.gid === -1 ? -1 : this.fs.ids.gidToHost(a.gid);
    if (uid !== -1 || gid !== -1) check(native.fchownat(fd, '', uid, gid, AT_EMPTY_PATH));
    if (a.mode !== undefined) check(native.chmodFd(fd, a.mode & 0o7777));
    if (a.size !== undefined) check(native.truncateFd(fd, a.size));
    if (a.atime || a.mtime) {
      const at = a.atime ?? [0, UTIME_OMIT];
      const mt = a.mtime ?? [0, UTIME_OMIT];
      check(native.utimensat(fd, '', [at[0], at[1], mt[0], mt[1]], AT_EMPTY_PATH));
    }
  }

  override getxattr(name: string, via?: Via): Buffer | null {
    if (this.removed && !via) return this.removed.attrs.getxattr(name);
    const v = via ? fdGetxattr(via.fd, name) : this.hostGetxattr(name);
    // A POSIX ACL names host ids: the sandbox sees its own.
    return v && isAclName(name) ? aclFromHost(this.fs.ids, v) : v;
  }
  private hostGetxattr(name: string): Buffer | null {
    const r = this.client.getxattr(this.fs.exportId, this.rel(), name, MAX_XATTR_BYTES);
    if (typeof r === 'number') {
      if (r === -61 /* ENODATA */) return null;
      throw sysErr(-r);
    }
    return r;
  }
  override listxattr(via?: Via): string[] {
    if (via) return xattrBuf.toString('latin1', 0, check(native.listxattrFd(via.fd, xattrBuf))).split('\0').filter(Boolean);
    if (this.removed) return this.removed.attrs.listxattr();
    const r = ok(this.client.listxattr(this.fs.exportId, this.rel(), MAX_XATTR_BYTES));
    return r.toString('latin1').split('\0').filter(Boolean);
  }
  override setxattr(name: string, value: Buffer, flags: number, via?: Via): void {
    if (this.removed && !via) return this.removed.attrs.setxattr(name, value, flags);
    if (isAclName(name)) value = aclToHost(this.fs.ids, value);
    if (via) return void check(native.setxattrFd(via.fd, name, value, flags));
    ok(this.client.setxattr(this.fs.exportId, this.rel(), name, value, flags));
  }
  override removexattr(name: string, via?: Via): void {
    if (via) return void check(native.removexattrFd(via.fd, name));
    if (this.removed) return this.removed.attrs.removexattr(name);
    ok(this.client.removexattr(this.fs.exportId, this.rel(), name));
  }

  statfs(): StatFs {
    const fd = this.fd();
    check(native.fstatfsFd(fd >= 0 ? fd : this.fs.root.fd(), statfsBuf));
    const f = statfsBuf;
    return {
      type: f[0]!, bsize: f[1]!, blocks: f[2]!, bfree: f[3]!, bavail: f[4]!, files: f[5]!, ffree: f[6]!,
      fsid: [f[7]!, f[8]!], namelen: f[9]!, frsize: f[10]!, flags: f[11]!,
    };
  }

  /** Drops the O_PATH fd (the node was removed or evicted); fd() gets a new one when needed. */
  release(): void {
    if (this.opath >= 0 && this.parent) {
      native.close(this.opath);
      this.opath = -1;
      withFd.delete(this);
    }
  }

  override evicted(): void {
    this.dropListing();
    this.release();
  }
}
