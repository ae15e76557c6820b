// tmpfs: a file system kept by the Sentry. Directories, symlinks and device
// nodes are plain objects in its heap; a regular file's contents are a file in
// the file system's storage, a host tmpfs mounted nowhere (storage.ts), opened
// by name for every guest open so that each open has its own offset and
// flags while reads, writes and mmap run natively. Everything is counted
// (nr_inodes, size, the sandbox's budget): running out is ENOSPC.
import {
  AT_EMPTY_PATH,
  O_ACCMODE,
  O_CREAT,
  O_DIRECT,
  O_EXCL,
  O_PATH,
  O_TRUNC,
  O_WRONLY,
  O_RDONLY,
  O_RDWR,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_ISGID,
  S_ISUID,
  TMPFS_MAGIC,
  UTIME_NOW,
  UTIME_OMIT,
  XATTR_CREATE,
  XATTR_POSIX_ACL_ACCESS,
  XATTR_POSIX_ACL_DEFAULT,
  XATTR_SECURITY_CAPABILITY,
  XATTR_REPLACE,
  dtypeOf,
  execSetidBits,
  makedev,
} from '../../abi/linux.js';
import type { Stat, StatFs } from '../../abi/structs.js';
import { STATX, STATX_FIELDS, native } from '../../platform/native.js';
import type { Creds } from '../creds.js';
import { check, fail, ownFd } from '../errors.js';
import { type DirEntry, type FileSystem, Node, type Opened, type SetAttr, type Via } from './node.js';
import { SANDBOX_NODES } from '../limits.js';
import { pipeOf } from './fifo.js';
import { type Acl, aclBytes, aclPermitted, chmodAcl, decodeAcl, inheritAcl, isAclName, updateMode } from './posixacl.js';
import { DEFAULT_TMPFS_SIZE, Storage, XATTR_NODE_MAX, budget, chargeMeta, chargeNodes, openHeldInode, unchargeMeta } from './storage.js';

export type Time = [number, number];

const clock = new Float64Array(2);
/** The current time, to the nanosecond (CLOCK_REALTIME, as the host's file times). */
export function now(): Time {
  native.realtime(clock);
  return [clock[0]!, clock[1]!];
}

/** Applies a setattr timestamp (UTIME_NOW / UTIME_OMIT aware). */
export function applyTime(cur: Time, t: [number, number] | undefined): Time {
  if (!t || t[1] === UTIME_OMIT) return cur;
  if (t[1] === UTIME_NOW) return now();
  return [t[0], t[1]];
}

/** utimensat's times for a host file: absent ones are UTIME_OMIT. */
function hostTimes(atime: Time | undefined, mtime: Time | undefined): [number, number, number, number] {
  return [atime?.[0] ?? 0, atime ? atime[1] : UTIME_OMIT, mtime?.[0] ?? 0, mtime ? mtime[1] : UTIME_OMIT];
}

/**
 * Minors of Sentry-owned file systems' devices count from 2^18: a
 * host-backed mount shows the host's st_dev, and the host hands out its
 * own anonymous minors (overlayfs, tmpfs) from 1 up, lowest free first;
 * counting from 16 as Linux does collided with them (busybox df then took
 * a tmpfs for the root, whose Docker overlay had the same number).
 */
let anonMinor = 2 ** 18;
/** A fresh anonymous st_dev for a Sentry-owned file system (major 0, like tmpfs/proc). */
export function anonDev(): number {
  return makedev(0, anonMinor++);
}

/** Inode numbers of Sentry-owned nodes; high enough never to collide with host inode numbers we pass through. */
let inoCounter = 2 ** 40;
export function nextIno(): number {
  return inoCounter++;
}

export class MemFs implements FileSystem {
  readonly dev = anonDev();
  readonly cache: FileSystem['cache'] = 'tree';
  /** nodes (names) this file system may hold: its nr_inodes */
  readonly maxNodes: number;
  /** nodes it holds, its root included (as Linux's tmpfs counts) */
  nodes = 1;
  /** bytes of file contents (size=) */
  readonly size: number;
  private store: Storage | undefined;

  constructor(
    readonly type = 'tmpfs',
    /** size= in bytes; 0: half of the memory, as on Linux */
    sizeLimit = 0,
    /** nr_inodes=; 0: the sandbox's whole budget */
    inodes = 0,
    /** mounted noexec (a file system mounted once: its storage is made noexec too) */
    private readonly noexec = false,
  ) {
    this.size = sizeLimit || DEFAULT_TMPFS_SIZE;
    this.maxNodes = inodes || SANDBOX_NODES;
  }

  /** Its files take O_DIRECT (tmpfs's do; sysfs's refuse it with EINVAL). */
  readonly directIo: boolean = true;

  /** A file's or directory's stat as this file system shows it (sysfs shows its own sizes). */
  shown(_node: Node, s: Stat): Stat {
    return s;
  }

  /** The host tmpfs holding the contents of this file system's regular files. */
  get storage(): Storage {
    return (this.store ??= new Storage(this.size, this.maxNodes, this.noexec));
  }

  /** Charges `n` new names; ENOSPC past this file system's or the sandbox's limit. */
  charge(n = 1): void {
    if (this.nodes + n > this.maxNodes) fail('ENOSPC');
    chargeNodes(n);
    this.nodes += n;
  }

  /** ENOSPC unless `n` more names fit now. */
  mustFit(n: number): void {
    this.charge(n);
    this.uncharge(n);
  }

  uncharge(n = 1): void {
    this.nodes -= n;
    budget.nodes -= n;
  }

  statfs(): StatFs {
    const [blocks, bfree, bavail] = this.storage.blocks();
    const ffree = Math.max(0, Math.min(this.maxNodes - this.nodes, SANDBOX_NODES - budget.nodes));
    return { type: TMPFS_MAGIC, bsize: 4096, blocks, bfree, bavail, files: this.maxNodes, ffree, fsid: [0, 0], namelen: 255, frsize: 4096, flags: 0 };
  }
}

/** Attributes every in-memory node keeps. */
export abstract class MemNode extends Node {
  readonly ino = nextIno();
  nlink = 1;
  atime: Time;
  mtime: Time;
  ctime: Time;
  readonly btime: Time;
  xattrs: Map<string, Buffer> | undefined;
  /** symlink target and xattr bytes charged to the sandbox's budget */
  protected metaBytes = 0;

  constructor(
    readonly fs: MemFs,
    public modeBits: number,
    public uid: number,
    public gid: number,
  ) {
    super();
    this.atime = this.mtime = this.ctime = this.btime = now();
  }

  get mode(): number {
    return this.modeBits;
  }

  baseStat(): Stat {
    return {
      dev: this.fs.dev, ino: this.ino, mode: this.modeBits, nlink: this.nlink, uid: this.uid, gid: this.gid,
      rdev: 0, size: 0, blksize: 4096, blocks: 0,
      atimeSec: this.atime[0], atimeNsec: this.atime[1], mtimeSec: this.mtime[0], mtimeNsec: this.mtime[1],
      ctimeSec: this.ctime[0], ctimeNsec: this.ctime[1], btimeSec: this.btime[0], btimeNsec: this.btime[1],
    };
  }

  stat(): Stat {
    return this.baseStat();
  }

  touchCtime(): void {
    this.ctime = now();
  }

  /**
   * Sets the access and modification times (copy-up keeps the lower
   * object's); each may be UTIME_NOW or UTIME_OMIT, or absent (kept).
   */
  setTimes(atime: Time | undefined, mtime: Time | undefined, _via?: Via): void {
    this.atime = applyTime(this.atime, atime);
    this.mtime = applyTime(this.mtime, mtime);
  }

  override setattr(a: SetAttr, via?: Via): void {
    if (a.size !== undefined) fail(this.isDir() ? 'EISDIR' : 'EINVAL');
    this.applyAttrs(a, via);
  }

  applyAttrs(a: SetAttr, via?: Via): void {
    if (a.mode !== undefined) {
      this.modeBits = (this.modeBits & S_IFMT) | (a.mode & 0o7777);
      // posix_acl_chmod: the access ACL follows the new mode.
      const acl = this.acl(XATTR_POSIX_ACL_ACCESS);
      if (acl) this.putXattr(XATTR_POSIX_ACL_ACCESS, aclBytes(chmodAcl(acl, this.modeBits)));
    }
    if (a.uid !== undefined && a.uid !== -1) this.uid = a.uid;
    if (a.gid !== undefined && a.gid !== -1) this.gid = a.gid;
    // A chown of a non-directory drops its file capabilities (Linux's ATTR_KILL_PRIV).
    const chown = (a.uid !== undefined && a.uid !== -1) || (a.gid !== undefined && a.gid !== -1);
    if (chown && !this.isDir() && this.xattrs?.has(XATTR_SECURITY_CAPABILITY)) this.removexattr(XATTR_SECURITY_CAPABILITY);
    if (a.atime || a.mtime) this.setTimes(a.atime, a.mtime, via);
    // A truncate alone changes ctime only with the size (the host's business for a file).
    const sizeOnly = a.size !== undefined && a.mode === undefined && a.uid === undefined && a.gid === undefined && !a.atime && !a.mtime;
    if (!sizeOnly) this.touchCtime();
  }

  /** Charges symlink and xattr bytes to the sandbox's budget (ENOSPC past it). */
  protected chargeMeta(bytes: number): void {
    chargeMeta(bytes);
    this.metaBytes += bytes;
  }

  protected unchargeMeta(bytes: number): void {
    this.metaBytes -= bytes;
    unchargeMeta(bytes);
  }

  /**
   * One of the names of this node was removed. Its storage goes with the
   * last one (a directory has only one); fds and mappings keep a file's
   * contents alive on the host until they are gone, as on Linux.
   */
  dropLink(): void {
    this.nlink = this.isDir() ? 0 : this.nlink - 1;
    if (this.nlink === 0) this.release();
  }

  /** The node is gone from the tree: give back what it holds. */
  protected release(): void {
    this.unchargeMeta(this.metaBytes);
    this.xattrs = undefined;
  }

  override getxattr(name: string): Buffer | null {
    return this.xattrs?.get(name) ?? null;
  }
  override listxattr(): string[] {
    // tmpfs lists the ACLs first (simple_xattr_list).
    const names = [...(this.xattrs?.keys() ?? [])];
    return [...names.filter(isAclName).sort(), ...names.filter((n) => !isAclName(n))];
  }
  override setxattr(name: string, value: Buffer, flags: number): void {
    const old = this.xattrs?.get(name);
    if (flags & XATTR_CREATE && old) fail('EEXIST');
    if (flags & XATTR_REPLACE && !old) fail('ENODATA');
    this.putXattr(name, value);
    this.touchCtime();
  }

  /** The ACL kept under `name` (XATTR_POSIX_ACL_ACCESS or _DEFAULT), or null. */
  acl(name: string): Acl | null {
    const v = this.xattrs?.get(name);
    return v ? decodeAcl(v) : null;
  }

  override keepsAcls(): boolean {
    return true;
  }

  override setAcl(name: string, acl: Acl | null, keepSgid: boolean): void {
    let keep = acl;
    let mode = this.modeBits;
    if (name === XATTR_POSIX_ACL_ACCESS) ({ mode, keep } = updateMode(acl, mode, keepSgid));
    if (keep) this.putXattr(name, aclBytes(keep));
    else if (this.xattrs?.has(name)) this.removexattr(name);
    this.modeBits = mode;
    this.touchCtime();
  }

  override permits(c: Creds, st: Stat, want: number): boolean {
    return aclPermitted(c, st, want, this.acl(XATTR_POSIX_ACL_ACCESS));
  }

  /**
   * posix_acl_create: a node made in this directory with `mode` (the umask
   * not applied when this directory has a default ACL) gets the mode and
   * access ACL the default ACL gives it, and a directory the default ACL too.
   */
  protected inherited(mode: number): { mode: number; apply: (n: MemNode) => void } {
    const dflt = this.acl(XATTR_POSIX_ACL_DEFAULT);
    if (!dflt) return { mode, apply: () => {} };
    const r = inheritAcl(dflt, mode);
    const apply = (n: MemNode) => {
      try {
        if (r.access) n.putXattr(XATTR_POSIX_ACL_ACCESS, aclBytes(r.access));
        if (n.isDir()) n.putXattr(XATTR_POSIX_ACL_DEFAULT, aclBytes(dflt));
      } catch (e) {
        n.dropLink();
        throw e;
      }
    };
    return { mode: r.mode, apply };
  }
  /** Stores an xattr, charged: names and values of one node together up to XATTR_NODE_MAX, then ENOSPC. */
  putXattr(name: string, value: Buffer): void {
    const old = this.xattrs?.get(name);
    const grow = value.length - (old ? old.length : -name.length);
    if (this.metaBytes + grow > XATTR_NODE_MAX + this.symlinkBytes()) fail('ENOSPC');
    if (grow > 0) this.chargeMeta(grow);
    else this.unchargeMeta(-grow);
    (this.xattrs ??= new Map()).set(name, Buffer.from(value));
  }
  override removexattr(name: string): void {
    const old = this.xattrs?.get(name);
    if (!old) fail('ENODATA');
    this.xattrs!.delete(name);
    this.unchargeMeta(name.length + old.length);
    this.touchCtime();
  }
  /** Bytes of metaBytes that are not xattrs. */
  protected symlinkBytes(): number {
    return 0;
  }
}

const statBuf = new Float64Array(STATX_FIELDS);

const later = (a: Time, sec: number, nsec: number): boolean => sec > a[0] || (sec === a[0] && nsec > a[1]);

/** asks getxattr for a value's size only */
export const NO_BYTES = new Uint8Array(0);

/**
 * A regular file: its contents are a file in its file system's storage
 * (storage.ts), opened by name for every guest open so each open has its own
 * offset and flags while reads, writes and mmap run natively. The host file's
 * size, blocks and times are the file's: guest writes change them natively.
 *
 * What an exec honours, the set-id bits (execSetidBits) and file
 * capabilities, is mirrored onto the host file. A write through a guest's fd
 * (or a truncation) clears them there, as Linux does at the write (the guest
 * has no CAP_FSETID on the host; capabilities go at any write), without the
 * Sentry seeing it: what the host file lacks is dropped here when next
 * looked at, and the set-id store (setid.ts) reads the host file's own.
 */
export class MemFile extends MemNode {
  /** the name of the contents in the storage; null once the last link is gone */
  private stored: string | null;
  /** the storage file's host identity once its name is gone, to find it among guest fds */
  private host: [number, number, number] | null = null;
  /** the host file was given this file's capabilities (so their absence there means a write removed them) */
  private capsOnHost = false;

  /**
   * A new, empty file, and an fd of its contents opened with open(2) `flags`
   * (the guest's, for a create; O_RDWR to fill it), which the caller owns.
   */
  static make(fs: MemFs, mode: number, uid: number, gid: number, flags: number): { file: MemFile; fd: number } {
    const { name, fd } = fs.storage.create(flags, execSetidBits(mode));
    return { file: new MemFile(fs, mode, uid, gid, name), fd };
  }

  /**
   * A new file without a name (O_TMPFILE): no link, no charge to the file
   * system until link() names it; the host frees it with the last fd of it.
   */
  static unnamed(fs: MemFs, mode: number, uid: number, gid: number, flags: number): { file: MemFile; fd: number } {
    const fd = fs.storage.tmpfile(flags, execSetidBits(mode));
    const file = new MemFile(fs, mode, uid, gid, null);
    file.nlink = 0;
    if (native.statxFd(fd, statBuf) === 0) file.host = [statBuf[STATX.devMajor]!, statBuf[STATX.devMinor]!, statBuf[STATX.ino]!];
    return { file, fd };
  }

  /** A new file filled by `init` through an O_RDWR fd (copy-up, sysfs); on failure nothing stays. */
  static filled(fs: MemFs, mode: number, uid: number, gid: number, init: (fd: number) => void): MemFile {
    const { file, fd } = MemFile.make(fs, mode, uid, gid, O_RDWR);
    try {
      init(fd);
    } catch (e) {
      file.dropLink();
      throw e;
    } finally {
      native.close(fd);
    }
    return file;
  }

  private constructor(fs: MemFs, mode: number, uid: number, gid: number, stored: string | null) {
    super(fs, S_IFREG | (mode & 0o7777), uid, gid);
    this.stored = stored;
  }

  /**
   * Names again a file whose last name is gone (linkat of its fd): only an
   * O_TMPFILE file made without O_EXCL and never named may be, and the host
   * decides so as Linux does (ENOENT otherwise, and when no guest holds it).
   */
  relink(): void {
    const name = this.withGone(undefined, (fd) => this.fs.storage.link(fd));
    if (name === null) fail('ENOENT');
    this.stored = name;
    this.host = null;
  }

  /** A new fd of the contents with open(2) flags (never O_CREAT or O_TRUNC). */
  private hostOpen(flags: number): number {
    if (this.stored !== null) return ownFd(this.fs.storage.open(this.stored, flags));
    const fd = this.host ? openHeldInode(this.host[0], this.host[1], this.host[2], flags) : -1;
    if (fd < 0) fail('ENOENT');
    return fd;
  }

  /** `via` is an fd of this file's contents (the guest's fd of a file whose name is gone). */
  private isContents(via: Via | undefined): via is Via {
    const h = this.host;
    return !!via && !!h && via.sx[STATX.devMajor] === h[0] && via.sx[STATX.devMinor] === h[1] && via.sx[STATX.ino] === h[2];
  }

  /**
   * Runs `f` on an fd of the contents of a file whose last name is gone:
   * `via`, or a guest's fd or mapping of it; null when no guest holds it.
   */
  private withGone<T>(via: Via | undefined, f: (fd: number) => T): T | null {
    if (this.isContents(via)) return f(via.fd);
    if (!this.host) return null;
    const fd = openHeldInode(this.host[0], this.host[1], this.host[2], O_PATH);
    if (fd < 0) return null;
    try {
      return f(fd);
    } finally {
      native.close(fd);
    }
  }

  /** Runs `f` on a new read-only fd of the contents; null when the file is gone and no guest holds it. */
  private withContents<T>(f: (fd: number) => T): T | null {
    let fd: number;
    try {
      fd = this.hostOpen(O_RDONLY);
    } catch {
      return null;
    }
    try {
      return f(fd);
    } finally {
      native.close(fd);
    }
  }

  /** Drops the set-id bits the host file no longer shows (a write cleared them there). */
  private keepHostSetid(hostMode: number): void {
    this.modeBits &= ~(execSetidBits(this.modeBits) & ~hostMode);
  }

  /** Drops the capabilities the host file no longer has (a write removed them there). */
  private keepHostCaps(): void {
    if (!this.capsOnHost || !this.xattrs?.has(XATTR_SECURITY_CAPABILITY)) return;
    if (this.withContents((fd) => native.getxattrFd(fd, XATTR_SECURITY_CAPABILITY, NO_BYTES) >= 0) !== false) return;
    this.capsOnHost = false;
    super.removexattr(XATTR_SECURITY_CAPABILITY);
  }

  /** Takes in what writes cleared on the host since the Sentry last looked. */
  private syncFromHost(): void {
    const x = this.hostStat();
    if (x) this.keepHostSetid(x[STATX.mode]!);
    this.keepHostCaps();
  }

  /**
   * Gives the host file this file's set-id bits. Only a change of mode
   * (`setsMode`) may set them there: for any other change, a write that
   * cleared them since syncFromHost read the host file (a writer may also
   * change the times) cleared them for good, as on Linux.
   */
  private mirrorSetid(setsMode: boolean): void {
    const x = this.hostStat();
    if (!x) return;
    const host = x[STATX.mode]! & (S_ISUID | S_ISGID);
    const want = execSetidBits(this.modeBits) & (setsMode ? S_ISUID | S_ISGID : host);
    if (host !== want) this.withContents((fd) => native.fchmod(fd, 0o777 | want));
  }

  override applyAttrs(a: SetAttr, via?: Via): void {
    this.syncFromHost();
    super.applyAttrs(a, via);
    this.mirrorSetid(a.mode !== undefined);
  }

  override getxattr(name: string): Buffer | null {
    if (name === XATTR_SECURITY_CAPABILITY) this.keepHostCaps();
    return super.getxattr(name);
  }

  override listxattr(): string[] {
    this.keepHostCaps();
    return super.listxattr();
  }

  override setAcl(name: string, acl: Acl | null, keepSgid: boolean): void {
    this.syncFromHost();
    super.setAcl(name, acl, keepSgid);
    // An access ACL may have changed group execute, which decides set-group-id.
    this.mirrorSetid(name === XATTR_POSIX_ACL_ACCESS);
  }

  override putXattr(name: string, value: Buffer): void {
    const old = this.xattrs?.get(name);
    super.putXattr(name, value);
    if (name !== XATTR_SECURITY_CAPABILITY) return;
    const r = this.withContents((fd) => native.setxattrFd(fd, XATTR_SECURITY_CAPABILITY, value, 0));
    if (r === null || r === 0) {
      this.capsOnHost = r === 0;
      return;
    }
    // The host refuses what Linux refuses (EINVAL: no capability set): nothing changes.
    if (old) super.putXattr(name, old);
    else super.removexattr(name);
    check(r);
  }

  override removexattr(name: string): void {
    if (name === XATTR_SECURITY_CAPABILITY) this.keepHostCaps();
    super.removexattr(name);
    if (name === XATTR_SECURITY_CAPABILITY && this.capsOnHost) {
      this.capsOnHost = false;
      this.withContents((fd) => native.removexattrFd(fd, XATTR_SECURITY_CAPABILITY));
    }
  }

  /** statx of the contents, or null when the file is gone and no guest holds it. */
  private hostStat(via?: Via): Float64Array | null {
    if (this.stored !== null) return this.fs.storage.statx(this.stored, statBuf) === 0 ? statBuf : null;
    if (this.isContents(via)) return via.sx;
    return this.withGone(undefined, (fd) => (native.statxFd(fd, statBuf) === 0 ? statBuf : null));
  }

  override stat(via?: Via): Stat {
    const x = this.hostStat(via);
    if (x) this.keepHostSetid(x[STATX.mode]!);
    const s = this.baseStat();
    if (x) {
      s.size = x[STATX.size]!;
      s.blocks = x[STATX.blocks]!;
      s.atimeSec = x[STATX.atimeSec]!;
      s.atimeNsec = x[STATX.atimeNsec]!;
      s.mtimeSec = x[STATX.mtimeSec]!;
      s.mtimeNsec = x[STATX.mtimeNsec]!;
      // ctime: the later of the host file's (guest writes) and the Sentry's own (mode, owner, links).
      if (later(this.ctime, x[STATX.ctimeSec]!, x[STATX.ctimeNsec]!)) {
        s.ctimeSec = x[STATX.ctimeSec]!;
        s.ctimeNsec = x[STATX.ctimeNsec]!;
      }
    }
    return this.fs.shown(this, s);
  }

  override setTimes(atime: Time | undefined, mtime: Time | undefined, via?: Via): void {
    super.setTimes(atime, mtime);
    // The host file's times are the ones stat reports (guest writes move them natively).
    const times = hostTimes(atime, mtime);
    if (this.stored !== null) this.fs.storage.utimens(this.stored, times);
    else this.withGone(via, (fd) => native.utimensat(fd, '', times, AT_EMPTY_PATH));
  }

  override open(flags: number): Opened {
    if (flags & O_DIRECT && !this.fs.directIo) fail('EINVAL');
    const acc = flags & O_ACCMODE;
    const fd = this.hostOpen(flags & ~(O_TRUNC | O_CREAT | O_EXCL));
    if (flags & O_TRUNC) {
      // Linux truncates for O_RDONLY|O_TRUNC too (the open asked for write permission).
      const w = acc === O_RDONLY ? this.hostOpen(O_WRONLY) : fd;
      native.ftruncate(w, 0);
      if (w !== fd) native.close(w);
      this.mtime = this.ctime = now();
    }
    return { fd };
  }

  override setattr(a: SetAttr, via?: Via): void {
    if (a.size !== undefined) {
      // The host moves mtime and ctime when the size changes, as Linux does.
      const fd = this.hostOpen(O_WRONLY);
      const r = native.ftruncate(fd, a.size);
      native.close(fd);
      check(r);
    }
    this.applyAttrs(a, via);
  }

  protected override release(): void {
    super.release();
    if (this.stored === null) return;
    if (this.fs.storage.statx(this.stored, statBuf) === 0) this.host = [statBuf[STATX.devMajor]!, statBuf[STATX.devMinor]!, statBuf[STATX.ino]!];
    this.fs.storage.unlink(this.stored);
    this.stored = null;
  }
}

export class MemSymlink extends MemNode {
  constructor(fs: MemFs, readonly target: string, uid: number, gid: number) {
    super(fs, S_IFLNK | 0o777, uid, gid);
    this.chargeMeta(Buffer.byteLength(target, 'latin1'));
  }
  override stat(): Stat {
    const s = this.baseStat();
    s.size = Buffer.byteLength(this.target, 'latin1');
    return s;
  }
  override readlink(): string {
    this.atime = now();
    return this.target;
  }
  protected override symlinkBytes(): number {
    return Buffer.byteLength(this.target, 'latin1');
  }
}

/** Device nodes, FIFOs and sockets: opening them is delegated to the kernel's device table. */
export class MemSpecial extends MemNode {
  constructor(
    fs: MemFs,
    mode: number,
    readonly rdev: number,
    uid: number,
    gid: number,
    private readonly opener: (node: MemSpecial, flags: number) => Opened,
  ) {
    super(fs, mode, uid, gid);
  }
  override stat(): Stat {
    const s = this.baseStat();
    s.rdev = this.rdev;
    return s;
  }
  override open(flags: number): Opened {
    return this.opener(this, flags);
  }
  override fifo(): number {
    if ((this.mode & S_IFMT) !== S_IFIFO) fail('ENXIO');
    return pipeOf(this);
  }
}

export type SpecialOpener = (node: MemSpecial, flags: number) => Opened;

export class MemDir extends MemNode {
  readonly entries = new Map<string, MemNode>();

  constructor(
    fs: MemFs,
    mode: number,
    uid: number,
    gid: number,
    /** how device nodes, FIFOs and sockets created here are opened */
    readonly opener: SpecialOpener,
  ) {
    super(fs, S_IFDIR | (mode & 0o7777), uid, gid);
    this.nlink = 2;
  }

  override stat(): Stat {
    const s = this.baseStat();
    s.size = 4096;
    s.blocks = 8;
    return this.fs.shown(this, s);
  }

  override lookup(name: string): Node | null {
    return this.entries.get(name) ?? null;
  }

  override readdir(): DirEntry[] {
    const out: DirEntry[] = [];
    for (const [name, n] of this.entries) out.push({ name, ino: n.ino, type: dtypeOf(n.mode) });
    return out;
  }

  private changed(): void {
    this.mtime = this.ctime = now();
  }

  private fresh(name: string): void {
    if (this.entries.has(name)) fail('EEXIST');
  }

  private place(name: string, node: MemNode): void {
    this.entries.set(name, node);
    if (node.isDir()) this.nlink++;
    this.changed();
  }

  /** Makes a node under a new name, charged first (ENOSPC when the file system is full). */
  private add<T extends MemNode>(name: string, make: () => T): T {
    this.fresh(name);
    this.fs.charge();
    let node: T;
    try {
      node = make();
    } catch (e) {
      this.fs.uncharge();
      throw e;
    }
    this.place(name, node);
    return node;
  }

  /** Adds a node made elsewhere (a copy-up, a whiteout) under `name`; it is released if the name cannot be charged. */
  insert(name: string, node: MemNode): void {
    try {
      this.fs.charge();
    } catch (e) {
      node.dropLink();
      throw e;
    }
    this.place(name, node);
  }

  /** Removes entry `name` without checks (an overlay whiteout, a replaced device node). */
  removeEntry(name: string): void {
    const n = this.entries.get(name);
    if (!n) return;
    this.entries.delete(name);
    if (n.isDir()) this.nlink--;
    this.fs.uncharge();
    n.dropLink();
    n.touchCtime();
    this.changed();
  }

  override appliesUmask(): boolean {
    return !this.xattrs?.has(XATTR_POSIX_ACL_DEFAULT);
  }

  override create(name: string, mode: number, creds: Creds, flags: number): Opened & { node: Node } {
    let fd = -1;
    const inh = this.inherited(S_IFREG | mode);
    const f = this.add(name, () => {
      const made = MemFile.make(this.fs, inh.mode, creds.fsuid, this.childGid(creds), flags);
      fd = made.fd;
      try {
        inh.apply(made.file);
      } catch (e) {
        native.close(fd);
        throw e;
      }
      return made.file;
    });
    return { fd, node: f, created: true };
  }

  override tmpfile(mode: number, creds: Creds, flags: number): Opened & { node: Node } {
    const inh = this.inherited(S_IFREG | mode);
    const { file, fd } = MemFile.unnamed(this.fs, inh.mode, creds.fsuid, this.childGid(creds), flags);
    try {
      inh.apply(file);
    } catch (e) {
      native.close(fd);
      throw e;
    }
    return { fd, node: file, created: true };
  }

  /** BSD group semantics when the directory is set-gid. */
  childGid(creds: Creds): number {
    return this.modeBits & 0o2000 ? this.gid : creds.fsgid;
  }

  override mkdir(name: string, mode: number, creds: Creds): Node {
    const sgid = this.modeBits & 0o2000;
    const inh = this.inherited(S_IFDIR | mode | sgid);
    return this.add(name, () => {
      const d = new MemDir(this.fs, inh.mode, creds.fsuid, this.childGid(creds), this.opener);
      inh.apply(d);
      return d;
    });
  }

  override mknod(name: string, mode: number, rdev: number, creds: Creds): Node {
    const regular = (mode & S_IFMT) === S_IFREG || (mode & S_IFMT) === 0;
    const inh = this.inherited(regular ? S_IFREG | (mode & 0o7777) : mode);
    return this.add(name, () => {
      const n = regular
        ? MemFile.filled(this.fs, inh.mode, creds.fsuid, this.childGid(creds), () => {})
        : new MemSpecial(this.fs, inh.mode, rdev, creds.fsuid, this.childGid(creds), this.opener);
      inh.apply(n);
      return n;
    });
  }

  override symlink(name: string, target: string, creds: Creds): Node {
    return this.add(name, () => new MemSymlink(this.fs, target, creds.fsuid, this.childGid(creds)));
  }

  override link(name: string, target: Node): void {
    if (!(target instanceof MemNode) || target.fs !== this.fs) fail('EXDEV');
    if (target.isDir()) fail('EPERM');
    if (target.nlink === 0 && !(target instanceof MemFile)) fail('ENOENT');
    this.fresh(name);
    // Each name costs an inode, as on tmpfs: links must not exhaust the Sentry's memory either.
    this.fs.charge();
    if (target.nlink === 0) {
      try {
        (target as MemFile).relink();
      } catch (e) {
        this.fs.uncharge();
        throw e;
      }
    }
    target.nlink++;
    target.touchCtime();
    this.entries.set(name, target);
    this.changed();
  }

  override unlink(name: string, child: Node): void {
    const n = this.entries.get(name);
    if (!n || n !== child) fail('ENOENT');
    if (n.isDir()) fail('EISDIR');
    this.removeEntry(name);
  }

  override rmdir(name: string, child: Node): void {
    const n = this.entries.get(name);
    if (!n || n !== child) fail('ENOENT');
    if (!(n instanceof MemDir)) fail('ENOTDIR');
    if (n.entries.size) fail('ENOTEMPTY');
    this.removeEntry(name);
  }

  override rename(oldName: string, newDir: Node, newName: string, flags: number): void {
    if (!(newDir instanceof MemDir) || newDir.fs !== this.fs) fail('EXDEV');
    const n = this.entries.get(oldName);
    if (!n) fail('ENOENT');
    const existing = newDir.entries.get(newName);
    if (flags & RENAME_NOREPLACE && existing) fail('EEXIST');
    if (flags & RENAME_EXCHANGE) {
      if (!existing) fail('ENOENT');
      this.entries.set(oldName, existing);
      newDir.entries.set(newName, n);
      if (n.isDir() !== existing.isDir()) {
        const d = n.isDir() ? 1 : -1;
        this.nlink -= d;
        newDir.nlink += d;
      }
      this.changed();
      newDir.changed();
      return;
    }
    if (existing === n) return;
    if (existing) {
      if (existing.isDir()) {
        if (!n.isDir()) fail('EISDIR');
        if ((existing as MemDir).entries.size) fail('ENOTEMPTY');
      } else if (n.isDir()) {
        fail('ENOTDIR');
      }
      newDir.removeEntry(newName);
    }
    this.entries.delete(oldName);
    if (n.isDir()) this.nlink--;
    newDir.entries.set(newName, n);
    if (n.isDir()) newDir.nlink++;
    n.touchCtime();
    this.changed();
    newDir.changed();
  }
}
