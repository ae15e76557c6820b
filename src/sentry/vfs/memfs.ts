// tmpfs: a file system that lives in the Sentry's memory. Directories,
// symlinks and device nodes are plain objects; a regular file is a memfd the
// Sentry owns, reopened through /proc/self/fd for every guest open so each
// open has its own offset and flags, while reads, writes and mmap run natively.
import {
  MFD_CLOEXEC,
  MFD_EXEC,
  O_ACCMODE,
  O_TRUNC,
  O_WRONLY,
  O_RDWR,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  TMPFS_MAGIC,
  UTIME_NOW,
  UTIME_OMIT,
  XATTR_CREATE,
  XATTR_REPLACE,
  dtypeOf,
} from '../../abi/linux.js';
import type { Stat, StatFs } from '../../abi/structs.js';
import { STATX, STATX_FIELDS, native } from '../../platform/native.js';
import type { Creds } from '../creds.js';
import { check, fail } from '../errors.js';
import { type DirEntry, type FileSystem, Node, type Opened, type SetAttr } from './node.js';

export type Time = [number, number];

export function now(): Time {
  const ms = Date.now();
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}

/** Applies a setattr timestamp (UTIME_NOW / UTIME_OMIT aware). */
export function applyTime(cur: Time, t: [number, number] | undefined): Time {
  if (!t || t[1] === UTIME_OMIT) return cur;
  if (t[1] === UTIME_NOW) return now();
  return [t[0], t[1]];
}

let sandboxDevCounter = 0x10;
/** A fresh anonymous st_dev for a Sentry-owned file system (major 0, like tmpfs/proc). */
export function anonDev(): number {
  return sandboxDevCounter++;
}

/** Inode numbers of Sentry-owned nodes; high enough never to collide with host inode numbers we pass through. */
let inoCounter = 2 ** 40;
export function nextIno(): number {
  return inoCounter++;
}

export class MemFs implements FileSystem {
  readonly dev = anonDev();
  readonly cacheable = true;
  constructor(
    readonly type = 'tmpfs',
    /** size limit in bytes reported by statfs (0: half of the memory, like tmpfs) */
    readonly sizeLimit = 0,
  ) {}
  statfs(): StatFs {
    const blocks = this.sizeLimit ? Math.ceil(this.sizeLimit / 4096) : 1 << 20;
    return {
      type: TMPFS_MAGIC, bsize: 4096, blocks, bfree: blocks, bavail: blocks,
      files: 1 << 20, ffree: 1 << 20, fsid: [0, 0], namelen: 255, frsize: 4096, flags: 0,
    };
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

  constructor(
    readonly fs: FileSystem,
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

  override setattr(a: SetAttr): void {
    if (a.size !== undefined) fail(this.isDir() ? 'EISDIR' : 'EINVAL');
    this.applyAttrs(a);
  }

  applyAttrs(a: SetAttr): void {
    if (a.mode !== undefined) this.modeBits = (this.modeBits & S_IFMT) | (a.mode & 0o7777);
    if (a.uid !== undefined && a.uid !== -1) this.uid = a.uid;
    if (a.gid !== undefined && a.gid !== -1) this.gid = a.gid;
    this.atime = applyTime(this.atime, a.atime);
    this.mtime = applyTime(this.mtime, a.mtime);
    this.touchCtime();
  }

  override getxattr(name: string): Buffer | null {
    return this.xattrs?.get(name) ?? null;
  }
  override listxattr(): string[] {
    return [...(this.xattrs?.keys() ?? [])];
  }
  override setxattr(name: string, value: Buffer, flags: number): void {
    const has = this.xattrs?.has(name) ?? false;
    if (flags & XATTR_CREATE && has) fail('EEXIST');
    if (flags & XATTR_REPLACE && !has) fail('ENODATA');
    (this.xattrs ??= new Map()).set(name, Buffer.from(value));
    this.touchCtime();
  }
  override removexattr(name: string): void {
    if (!this.xattrs?.delete(name)) fail('ENODATA');
    this.touchCtime();
  }
}

const statBuf = new Float64Array(STATX_FIELDS);

export class MemFile extends MemNode {
  /** the memfd holding the contents, owned by the Sentry */
  readonly memfd: number;

  constructor(fs: FileSystem, mode: number, uid: number, gid: number, memfd?: number) {
    super(fs, S_IFREG | (mode & 0o7777), uid, gid);
    // MFD_EXEC: the file may be executed with execveat() (a memory-only binary).
    this.memfd = memfd ?? check(native.memfdCreate('tsvisor', MFD_CLOEXEC | MFD_EXEC));
  }

  override stat(): Stat {
    const s = this.baseStat();
    if (native.statxFd(this.memfd, statBuf) === 0) {
      s.size = statBuf[STATX.size]!;
      s.blocks = statBuf[STATX.blocks]!;
      // Guest writes go straight to the memfd; the kernel keeps its times.
      if (statBuf[STATX.mtimeSec]! > s.mtimeSec || (statBuf[STATX.mtimeSec] === s.mtimeSec && statBuf[STATX.mtimeNsec]! > s.mtimeNsec)) {
        s.mtimeSec = statBuf[STATX.mtimeSec]!;
        s.mtimeNsec = statBuf[STATX.mtimeNsec]!;
      }
      if (statBuf[STATX.ctimeSec]! > s.ctimeSec || (statBuf[STATX.ctimeSec] === s.ctimeSec && statBuf[STATX.ctimeNsec]! > s.ctimeNsec)) {
        s.ctimeSec = statBuf[STATX.ctimeSec]!;
        s.ctimeNsec = statBuf[STATX.ctimeNsec]!;
      }
    }
    return s;
  }

  /** host (dev, ino) key of the memfd, how guest fds are recognised */
  hostKey(): string {
    check(native.statxFd(this.memfd, statBuf));
    return `${statBuf[STATX.devMajor]}:${statBuf[STATX.devMinor]}:${statBuf[STATX.ino]}`;
  }

  override open(flags: number): Opened {
    const acc = flags & O_ACCMODE;
    // Reopen without O_TRUNC/O_CREAT: truncation is applied here, through the Sentry's fd.
    const fd = check(native.reopen(this.memfd, flags & ~(O_TRUNC | 0o100 | 0o200)));
    if (flags & O_TRUNC && (acc === O_WRONLY || acc === O_RDWR)) {
      native.ftruncate(this.memfd, 0);
      this.mtime = this.ctime = now();
    }
    return { fd };
  }

  override setattr(a: SetAttr): void {
    if (a.size !== undefined) {
      check(native.ftruncate(this.memfd, a.size));
      if (!a.mtime) a = { ...a, mtime: [0, UTIME_NOW] };
    }
    this.applyAttrs(a);
  }
}

export class MemSymlink extends MemNode {
  constructor(fs: FileSystem, readonly target: string, uid: number, gid: number) {
    super(fs, S_IFLNK | 0o777, uid, gid);
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
}

/** Device nodes, FIFOs and sockets: opening them is delegated to the kernel's device table. */
export class MemSpecial extends MemNode {
  constructor(
    fs: FileSystem,
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
}

export type SpecialOpener = (node: MemSpecial, flags: number) => Opened;

export class MemDir extends MemNode {
  readonly entries = new Map<string, MemNode>();

  constructor(
    fs: FileSystem,
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
    return s;
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

  insert(name: string, node: MemNode): void {
    this.entries.set(name, node);
    if (node.isDir()) this.nlink++;
    this.changed();
  }

  override create(name: string, mode: number, creds: Creds, flags: number): Opened & { node: Node } {
    this.fresh(name);
    const f = new MemFile(this.fs, mode, creds.fsuid, this.childGid(creds));
    this.insert(name, f);
    return { ...f.open(flags & ~O_TRUNC), node: f, created: true };
  }

  /** BSD group semantics when the directory is set-gid. */
  childGid(creds: Creds): number {
    return this.modeBits & 0o2000 ? this.gid : creds.fsgid;
  }

  override mkdir(name: string, mode: number, creds: Creds): Node {
    this.fresh(name);
    const sgid = this.modeBits & 0o2000;
    const d = new MemDir(this.fs, mode | sgid, creds.fsuid, this.childGid(creds), this.opener);
    this.insert(name, d);
    return d;
  }

  override mknod(name: string, mode: number, rdev: number, creds: Creds): Node {
    this.fresh(name);
    const n =
      (mode & S_IFMT) === S_IFREG || (mode & S_IFMT) === 0
        ? new MemFile(this.fs, mode, creds.fsuid, this.childGid(creds))
        : new MemSpecial(this.fs, mode, rdev, creds.fsuid, this.childGid(creds), this.opener);
    this.insert(name, n);
    return n;
  }

  override symlink(name: string, target: string, creds: Creds): Node {
    this.fresh(name);
    const n = new MemSymlink(this.fs, target, creds.fsuid, this.childGid(creds));
    this.insert(name, n);
    return n;
  }

  override link(name: string, target: Node): void {
    if (!(target instanceof MemNode) || target.fs !== this.fs) fail('EXDEV');
    if (target.isDir()) fail('EPERM');
    this.fresh(name);
    target.nlink++;
    target.touchCtime();
    this.entries.set(name, target);
    this.changed();
  }

  override unlink(name: string, child: Node): void {
    const n = this.entries.get(name);
    if (!n || n !== child) fail('ENOENT');
    if (n.isDir()) fail('EISDIR');
    this.entries.delete(name);
    n.nlink--;
    n.touchCtime();
    this.changed();
  }

  override rmdir(name: string, child: Node): void {
    const n = this.entries.get(name);
    if (!n || n !== child) fail('ENOENT');
    if (!(n instanceof MemDir)) fail('ENOTDIR');
    if (n.entries.size) fail('ENOTEMPTY');
    this.entries.delete(name);
    this.nlink--;
    n.nlink = 0;
    this.changed();
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
        newDir.nlink--;
      } else if (n.isDir()) {
        fail('ENOTDIR');
      }
      existing.nlink--;
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
