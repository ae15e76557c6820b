// The Gofer: the only process that opens host files for a sandbox.
//
//   node dist/bundle/gofer.cjs [--sock N] --export ID:MODE:HOSTPATH ...
//
// It serves the protocol of docs/gofer-protocol.md on a SOCK_SEQPACKET socket
// (fd 3 by default), one synchronous request at a time, and hands opened fds
// back with SCM_RIGHTS. Paths arrive already resolved by the Sentry, but every
// operation is confined here again: each path is opened with openat2 beneath
// the export root without following any symlink, the final object is acted on
// through an O_PATH fd or its parent directory fd, objects on kernel-interface
// filesystems (procfs, sysfs, ...) and device nodes are refused, and
// read-only exports refuse every mutation.
import '../no-inspector.js';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';

import { ERRNO, errnoName } from '../abi/errno.js';
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_REMOVEDIR,
  AT_SYMLINK_NOFOLLOW,
  CGROUP_SUPER_MAGIC,
  CLONE_NEWNS,
  DEVPTS_SUPER_MAGIC,
  O_ACCMODE,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_REC,
  O_NOCTTY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_PATH,
  O_RDONLY,
  O_TMPFILE,
  O_TRUNC,
  PROC_SUPER_MAGIC,
  PTS_MAJOR_FIRST,
  PTS_MAJOR_LAST,
  RESOLVE_BENEATH,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  SECCOMP_FILTER_FLAG_TSYNC,
  SIGKILL,
  SYSFS_MAGIC,
  UTIME_OMIT,
} from '../abi/linux.js';
import { allowListFilter, encode } from '../bpf/filter.js';
import { native, STATX, STATX_FIELDS } from '../platform/native.js';
import { NUMBERS } from '../syscalls/numbers.js';
import { GOFER_SYSCALLS } from './syscalls.js';
import {
  isValidName,
  isValidPath,
  MAX_WALK_NAMES,
  MAX_XATTR_BYTES,
  Op,
  ProtocolError,
  Reader,
  RECV_BUFFER,
  SetattrMask,
  STATFS_FIELDS,
  WalkFlag,
  Writer,
} from './protocol.js';

const { EACCES, EBUSY, EEXIST, EINVAL, EIO, EISDIR, ELOOP, EMSGSIZE, ENOENT, ENOTDIR, EOPNOTSUPP, EPERM, ERANGE, EROFS, E2BIG } =
  ERRNO;

/** Every path the Gofer opens is resolved with these: beneath the fd, never through a symlink. */
const RESOLVE = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

/**
 * Filesystems whose objects are never served from an export (EACCES). procfs
 * and sysfs are the brief's; the rest are kernel interfaces that are mounted
 * below them (binfmt_misc under /proc, cgroup/debugfs/... under /sys) or are
 * equally dangerous to hand to a sandbox (namespace files, pty nodes).
 */
const FORBIDDEN_FS: ReadonlyMap<number, string> = new Map([
  [PROC_SUPER_MAGIC, 'proc'],
  [SYSFS_MAGIC, 'sysfs'],
  [0x42494e4d, 'binfmt_misc'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpf'],
  [CGROUP_SUPER_MAGIC, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0xde5e81e4, 'efivarfs'],
  [0x62656570, 'configfs'],
  [0x65735543, 'fusectl'],
  [0x6165676c, 'pstore'],
  [0x6e736673, 'nsfs'],
  [0xf97cff8c, 'selinuxfs'],
  [0x43415d53, 'smackfs'],
  [DEVPTS_SUPER_MAGIC, 'devpts'],
]);

/** Host devices DEVICE may open, with their expected (major, minor). */
const HOST_DEVICES: ReadonlyMap<string, readonly [number, number]> = new Map([
  ['null', [1, 3]],
  ['zero', [1, 5]],
  ['full', [1, 7]],
  ['random', [1, 8]],
  ['urandom', [1, 9]],
]);
const PTMX_RDEV = [5, 2] as const;
/** UNIX98_PTY_SLAVE_MAJOR .. + UNIX98_PTY_MAJOR_COUNT - 1 */

export interface ExportSpec {
  id: number;
  mode: 'ro' | 'rw';
  hostPath: string;
}

interface ExportRoot {
  id: number;
  ro: boolean;
  hostPath: string;
  fd: number;
}

/** Parses the command line; returns an error message on bad usage. */
/** One export as `ID:MODE:HOSTPATH` (an --export argument, or a line of the exports message). */
/** Adds ID:MODE:HOSTPATH to `exports`; a message if it is not one. */
function parseExport(v: string | undefined, exports: ExportSpec[]): string | undefined {
  const m = v === undefined ? null : /^(\d+):(ro|rw):(.+)$/s.exec(v);
  if (!m) return `--export needs ID:MODE:HOSTPATH with MODE ro or rw (got ${JSON.stringify(v)})`;
  const id = Number(m[1]);
  if (id > 0xffffffff) return `export id ${m[1]} is too large`;
  if (exports.some((e) => e.id === id)) return `export id ${id} given twice`;
  exports.push({ id, mode: m[2] as 'ro' | 'rw', hostPath: m[3]! });
  return undefined;
}

/** A host device line on the socket: DEVICE_PREFIX, then what --device takes. */
const DEVICE_PREFIX = 'dev:';

/**
 * Adds MAJOR:MINOR:NAME (a host character device the container was given,
 * by its name under /dev) to the devices DEVICE may open; a message if it
 * is not one.
 */
function parseDevice(v: string | undefined, devices: Map<string, [number, number]>): string | undefined {
  const m = v === undefined ? null : /^(\d{1,10}):(\d{1,10}):([A-Za-z0-9_.+-]+(?:\/[A-Za-z0-9_.+-]+)*)$/.exec(v);
  if (!m || m[3]!.split('/').some((p) => p === '.' || p === '..')) return `--device needs MAJOR:MINOR:NAME, NAME a path under /dev (got ${JSON.stringify(v)})`;
  devices.set(m[3]!, [Number(m[1]), Number(m[2])]);
  return undefined;
}

export function parseArgs(
  argv: readonly string[],
): { sock: number; exports: ExportSpec[]; devices: Map<string, [number, number]>; exportsOnSocket: boolean } | string {
  let sock = 3;
  let exportsOnSocket = false;
  const exports: ExportSpec[] = [];
  const devices = new Map<string, [number, number]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const inline = name !== a ? a.slice(eq + 1) : undefined;
    const value = (): string | undefined => (inline !== undefined ? inline : argv[++i]);
    if (name === '--sock') {
      const v = value();
      if (v === undefined || !/^\d+$/.test(v)) return `--sock needs a file descriptor number`;
      sock = Number(v);
    } else if (name === '--export' || name === '--device') {
      const e = name === '--export' ? parseExport(value(), exports) : parseDevice(value(), devices);
      if (e !== undefined) return e;
    } else if (name === '--exports-on-socket') {
      exportsOnSocket = true;
    } else {
      return `unknown argument ${JSON.stringify(a)}`;
    }
  }
  if (exportsOnSocket && (exports.length || devices.size)) return '--exports-on-socket excludes --export and --device';
  return { sock, exports, devices, exportsOnSocket };
}

/**
 * With --exports-on-socket the exports arrive as the first message, one
 * `ID:MODE:HOSTPATH` per line: the Sentry starts the Gofer before it has read
 * the container's configuration, so that Node's start-up of the two overlaps.
 */
/** The exports and host devices the Sentry hands over (startGofer's serve): one per line. */
function receiveExports(sock: number): { exports: ExportSpec[]; devices: Map<string, [number, number]> } {
  const buf = new Uint8Array(1 << 16);
  const n = native.recvMsg(sock, buf, new Int32Array(0), -1);
  if (n === 0) process.exit(0); // the Sentry went away first
  if (n < 0) fail(`receiving the exports: ${errnoName(n)}`);
  const exports: ExportSpec[] = [];
  const devices = new Map<string, [number, number]>();
  for (const line of Buffer.from(buf.buffer, 0, n).toString('utf8').split('\n')) {
    const e = line.startsWith(DEVICE_PREFIX) ? parseDevice(line.slice(DEVICE_PREFIX.length), devices) : parseExport(line, exports);
    if (typeof e === 'string') fail(e);
  }
  return { exports, devices };
}

/** Clears O_NONBLOCK on the open file description behind fd (FIFO opens). */
function clearNonblock(fd: number): number {
  const fl = native.fcntlGetfl(fd);
  if (fl < 0) return fl;
  return native.fcntlSetfl(fd, fl & ~O_NONBLOCK);
}

/** One Gofer: the exports, the private devpts, and the request loop. */
export class Gofer {
  private readonly exports = new Map<number, ExportRoot>();
  private readonly rbuf = new Uint8Array(RECV_BUFFER);
  private readonly rview = new DataView(this.rbuf.buffer);
  private readonly r = new Reader(this.rbuf);
  private readonly w = new Writer();
  private readonly inFds = new Int32Array(8);
  /** fds sent with the current response, in order. */
  private readonly outFds: number[] = [];
  /** fds opened while handling the current request; all closed after the response. */
  private readonly temps: number[] = [];
  private readonly stx = new Float64Array(STATX_FIELDS);
  private readonly sfs = new Float64Array(STATFS_FIELDS);
  private readonly xbuf = new Uint8Array(MAX_XATTR_BYTES);
  private readonly empty = new Uint8Array(0);

  constructor(
    private readonly sock: number,
    roots: readonly ExportRoot[],
    private readonly devFd: number,
    private readonly ptsFd: number,
    /** host devices the container was given, by name under /dev, with their (major, minor) */
    private readonly givenDevices: ReadonlyMap<string, readonly [number, number]> = new Map(),
  ) {
    for (const e of roots) this.exports.set(e.id, e);
  }

  /** Serves until the peer closes the socket, then exits the process. */
  serve(): void {
    for (;;) {
      const n = native.recvMsg(this.sock, this.rbuf, this.inFds, -1);
      for (const fd of this.inFds) if (fd >= 0) native.close(fd);
      if (n === 0) process.exit(0);
      if (n < 0 && n !== -EMSGSIZE) {
        fs.writeSync(2, `tsvisor-gofer: receive failed: ${errnoName(n)}\n`);
        process.exit(1);
      }
      this.handle(n);
    }
  }

  /** Handles one datagram of n bytes (-EMSGSIZE: larger than the buffer) and sends the response. */
  handle(n: number): void {
    const w = this.w.reset();
    this.outFds.length = 0;
    const len = n < 0 ? this.rbuf.length : n;
    const seq = len >= 5 ? this.rview.getUint32(1, true) : 0;
    w.u32(seq).i32(0);
    let result: number;
    try {
      if (n < 5) {
        result = -EINVAL;
      } else {
        this.r.reset(n);
        const op = this.r.u8();
        this.r.u32();
        result = this.dispatch(op);
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) {
        fs.writeSync(2, `tsvisor-gofer: internal error: ${e instanceof Error ? e.stack : String(e)}\n`);
      }
      result = e instanceof ProtocolError ? -EINVAL : -EIO;
    }
    if (result < 0) {
      w.pos = 8;
      this.outFds.length = 0;
    }
    w.patchI32(4, result);
    const s = native.sendMsg(this.sock, w.buf, w.pos, this.outFds);
    for (const fd of this.temps) native.close(fd);
    this.temps.length = 0;
    if (s < 0) {
      fs.writeSync(2, `tsvisor-gofer: send failed: ${errnoName(s)}\n`);
      process.exit(1);
    }
  }

  private dispatch(op: number): number {
    switch (op) {
      case Op.PING:
        this.r.end();
        return 0;
      case Op.WALK:
        return this.walk();
      case Op.OPEN:
        return this.open();
      case Op.MKDIR:
      case Op.MKNOD:
      case Op.SYMLINK:
        return this.create(op);
      case Op.LINK:
        return this.link();
      case Op.UNLINK:
        return this.unlink();
      case Op.RENAME:
        return this.rename();
      case Op.SETATTR:
        return this.setattr();
      case Op.READLINK:
        return this.readlink();
      case Op.GETXATTR:
      case Op.LISTXATTR:
        return this.getxattr(op);
      case Op.SETXATTR:
      case Op.REMOVEXATTR:
        return this.setxattr(op);
      case Op.STATFS:
        return this.statfs();
      case Op.DEVICE:
        return this.device();
      default:
        throw new ProtocolError(`unknown op ${op}`);
    }
  }

  // ---- helpers ---------------------------------------------------------------

  private exportArg(): ExportRoot {
    const e = this.exports.get(this.r.u32());
    if (!e) throw new ProtocolError('unknown export');
    return e;
  }

  private pathArg(): string {
    const p = this.r.str();
    if (!isValidPath(p)) throw new ProtocolError(`invalid path`);
    return p;
  }

  /** Remembers fd (if valid) to be closed once the response is sent. */
  private track(fd: number): number {
    if (fd >= 0) this.temps.push(fd);
    return fd;
  }

  /** 0, or -EACCES if fd lives on a filesystem the Gofer never serves. */
  private checkFs(fd: number): number {
    const r = native.fstatfsFd(fd, this.sfs);
    if (r < 0) return r;
    return FORBIDDEN_FS.has(this.sfs[0]!) ? -EACCES : 0;
  }

  /**
   * An O_PATH fd for rel ("" = dirFd itself) beneath dirFd, never following a
   * symlink; tracked and checked. With O_DIRECTORY a final symlink is ELOOP
   * (RESOLVE_NO_SYMLINKS); otherwise O_NOFOLLOW gives the symlink itself.
   */
  private openPath(dirFd: number, rel: string, extra = 0): number {
    const flags = O_PATH | O_CLOEXEC | extra | (extra & O_DIRECTORY ? 0 : O_NOFOLLOW);
    // "" is dirFd itself, which for a file export is not a directory: reopened, not walked.
    const fd = this.track(rel === '' ? native.reopen(dirFd, flags & ~O_NOFOLLOW) : native.openat2(dirFd, rel, flags, 0, RESOLVE));
    if (fd < 0) return fd;
    const c = this.checkFs(fd);
    return c < 0 ? c : fd;
  }

  /** The parent directory fd and final name of path; name "" means the export root itself. */
  private parentOf(exp: ExportRoot, path: string): { dir: number; name: string } | number {
    if (path === '') return { dir: exp.fd, name: '' };
    const slash = path.lastIndexOf('/');
    const dir = this.openPath(exp.fd, slash < 0 ? '' : path.slice(0, slash), O_DIRECTORY);
    if (dir < 0) return dir;
    return { dir, name: path.slice(slash + 1) };
  }

  private statFd(fd: number): number {
    return native.statxFd(fd, this.stx);
  }

  private get type(): number {
    return this.stx[STATX.mode]! & S_IFMT;
  }

  /** On a read-only export, the errno Linux gives for creating name: EEXIST if it exists, else EROFS. */
  private roCreateErrno(dir: number, name: string): number {
    const s = native.statxAt(dir, name, AT_SYMLINK_NOFOLLOW, this.stx);
    if (s === 0) return -EEXIST;
    return s === -ENOENT ? -EROFS : s;
  }

  /** On a read-only export, the errno for changing an existing name: its lookup error, else EROFS. */
  private roChangeErrno(dir: number, name: string): number {
    const s = native.statxAt(dir, name, AT_SYMLINK_NOFOLLOW, this.stx);
    return s < 0 ? s : -EROFS;
  }

  /** chown the object behind an fd (O_PATH fds included, symlinks not followed). */
  private chown(fd: number, uid: number, gid: number): number {
    return native.fchownat(fd, '', uid | 0, gid | 0, AT_EMPTY_PATH);
  }

  // ---- ops -------------------------------------------------------------------

  private walk(): number {
    const exp = this.exportArg();
    const dirPath = this.pathArg();
    const n = this.r.u32();
    if (n > MAX_WALK_NAMES) throw new ProtocolError('too many names');
    const names: string[] = [];
    for (let i = 0; i < n; i++) {
      const name = this.r.str();
      if (!isValidName(name)) throw new ProtocolError('invalid name');
      names.push(name);
    }
    this.r.end();

    let dir = this.openPath(exp.fd, dirPath, O_DIRECTORY);
    if (dir < 0) return dir;
    const w = this.w;
    const countAt = w.pos;
    w.u32(0).i32(0);
    let count = 0;
    let stop = 0;
    for (const name of names) {
      const fd = this.openPath(dir, name);
      if (fd < 0) {
        stop = -fd;
        break;
      }
      const s = this.statFd(fd);
      if (s < 0) {
        stop = -s;
        break;
      }
      const type = this.type;
      // Device nodes are described but never handed out, not even as O_PATH fds.
      // (A symlink's target is not read here: reading it moves its atime, which a lookup does not.)
      const hasFd = type !== S_IFCHR && type !== S_IFBLK;
      w.u8(hasFd ? WalkFlag.HAS_FD : 0);
      w.stat(this.stx);
      if (hasFd) this.outFds.push(fd);
      count++;
      if (type !== S_IFDIR) break;
      dir = fd;
    }
    w.patchU32(countAt, count);
    w.patchI32(countAt + 4, stop);
    return 0;
  }

  private open(): number {
    const exp = this.exportArg();
    const path = this.pathArg();
    let flags = this.r.u32() | 0;
    const mode = this.r.u32();
    const uid = this.r.u32();
    const gid = this.r.u32();
    this.r.end();

    if ((flags & O_TMPFILE) === O_TMPFILE) return -EOPNOTSUPP;
    if (flags & O_PATH) flags &= ~(O_CREAT | O_EXCL);
    let created = false;
    let fd: number;
    if (flags & O_CREAT) {
      const p = this.parentOf(exp, path);
      if (typeof p === 'number') return p;
      if (p.name === '') return -EISDIR;
      fd = -ENOENT;
      // Create, or open what is there; retry if a concurrent unlink races us.
      for (let attempt = 0; attempt < 4 && fd === -ENOENT; attempt++) {
        if (exp.ro) {
          const s = native.statxAt(p.dir, p.name, AT_SYMLINK_NOFOLLOW, this.stx);
          if (s < 0) return s === -ENOENT ? -EROFS : s;
          if (flags & O_EXCL) return -EEXIST;
          fd = this.openExisting(exp, p.dir, p.name, flags & ~O_CREAT);
          continue;
        }
        fd = this.track(
          // O_EXCL never follows a symlink in the last component (no O_NOFOLLOW, which F_GETFL would show).
          native.openat2(p.dir, p.name, flags | O_CREAT | O_EXCL | O_NOCTTY | O_CLOEXEC, mode & 0o7777, RESOLVE),
        );
        if (fd >= 0) {
          created = true;
          // chown clears set-id bits on regular files: put them back.
          const c = this.chown(fd, uid, gid);
          if (c < 0) return c;
          if (mode & 0o6000) native.fchmod(fd, mode & 0o7777);
          if (this.statFd(fd) < 0) return -EIO;
          break;
        }
        if (fd !== -EEXIST || flags & O_EXCL) return fd;
        fd = this.openExisting(exp, p.dir, p.name, flags & ~O_CREAT);
      }
    } else {
      fd = this.openExisting(exp, exp.fd, path, flags);
    }
    if (fd < 0) return fd;
    this.w.u8(created ? 1 : 0).stat(this.stx);
    this.outFds.push(fd);
    return 0;
  }

  /** Opens the existing object rel beneath dirFd; leaves its statx in this.stx. */
  private openExisting(exp: ExportRoot, dirFd: number, rel: string, flags: number): number {
    const p = this.openPath(dirFd, rel);
    if (p < 0) return p;
    if (this.statFd(p) < 0) return -EIO;
    const type = this.type;
    if (type === S_IFLNK) return flags & O_PATH && flags & O_NOFOLLOW ? p : -ELOOP;
    if (type === S_IFCHR || type === S_IFBLK) return -EACCES;
    if (flags & O_DIRECTORY && type !== S_IFDIR) return -ENOTDIR;
    if (flags & O_PATH) return p;
    const writes = (flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC) !== 0;
    if (writes && type === S_IFDIR) return -EISDIR;
    if (writes && exp.ro) return -EROFS;

    // Reopen the checked inode through /proc/self/fd (no path lookup), never
    // blocking the Gofer: FIFOs and leased files are opened O_NONBLOCK first.
    const nb = flags & O_NONBLOCK;
    const base = (flags & ~(O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) | O_NOCTTY;
    let fd: number;
    if (type === S_IFDIR) {
      fd = this.track(native.reopen(p, base | nb));
    } else {
      // Non-blocking, so a FIFO without a peer or a file under a lease never
      // stalls the Gofer; the caller's blocking mode is restored afterwards.
      fd = this.track(native.reopen(p, base | O_NONBLOCK));
      if (fd >= 0 && !nb) {
        const c = clearNonblock(fd);
        if (c < 0) return c;
      }
    }
    if (fd < 0) return fd;
    if (this.statFd(fd) < 0) return -EIO;
    return fd;
  }

  private create(op: number): number {
    const exp = this.exportArg();
    const path = this.pathArg();
    let mode = 0;
    let target = '';
    if (op === Op.SYMLINK) target = this.r.str();
    else mode = this.r.u32();
    const uid = this.r.u32();
    const gid = this.r.u32();
    this.r.end();
    if (target.includes('\0')) return -EINVAL;

    const p = this.parentOf(exp, path);
    if (typeof p === 'number') return p;
    if (p.name === '') return -EEXIST;
    let type = S_IFDIR;
    if (op === Op.MKNOD) {
      type = mode & S_IFMT || S_IFREG;
      if (type !== S_IFREG && type !== S_IFIFO && type !== S_IFSOCK) return -EPERM;
    } else if (op === Op.SYMLINK) {
      type = S_IFLNK;
    }
    if (exp.ro) return this.roCreateErrno(p.dir, p.name);

    let r: number;
    if (op === Op.MKDIR) r = native.mkdirat(p.dir, p.name, mode & 0o7777);
    else if (op === Op.MKNOD) r = native.mknodat(p.dir, p.name, type | (mode & 0o7777), 0);
    else r = native.symlinkat(target, p.dir, p.name);
    if (r < 0) return r;

    const fd = this.openPath(p.dir, p.name);
    if (fd < 0) return fd;
    if (this.statFd(fd) < 0) return -EIO;
    if (this.type !== type) return -EIO; // replaced under us
    r = this.chown(fd, uid, gid);
    if (r < 0) return r;
    if (mode & 0o6000 && type !== S_IFLNK) native.chmodFd(fd, mode & 0o7777);
    if (this.statFd(fd) < 0) return -EIO;
    this.w.stat(this.stx);
    return 0;
  }

  private link(): number {
    const exp = this.exportArg();
    const oldPath = this.pathArg();
    const newPath = this.pathArg();
    this.r.end();
    const o = this.parentOf(exp, oldPath);
    if (typeof o === 'number') return o;
    if (o.name === '') return -EPERM;
    const n = this.parentOf(exp, newPath);
    if (typeof n === 'number') return n;
    if (n.name === '') return -EEXIST;
    if (exp.ro) {
      const s = native.statxAt(o.dir, o.name, AT_SYMLINK_NOFOLLOW, this.stx);
      return s < 0 ? s : this.roCreateErrno(n.dir, n.name);
    }
    const r = native.linkat(o.dir, o.name, n.dir, n.name, 0);
    if (r < 0) return r;
    if (native.statxAt(n.dir, n.name, AT_SYMLINK_NOFOLLOW, this.stx) < 0) return -EIO;
    this.w.stat(this.stx);
    return 0;
  }

  private unlink(): number {
    const exp = this.exportArg();
    const path = this.pathArg();
    const removeDir = this.r.u8();
    this.r.end();
    if (removeDir > 1) return -EINVAL;
    const p = this.parentOf(exp, path);
    if (typeof p === 'number') return p;
    if (p.name === '') return -EBUSY;
    if (exp.ro) return this.roChangeErrno(p.dir, p.name);
    return native.unlinkat(p.dir, p.name, removeDir ? AT_REMOVEDIR : 0);
  }

  private rename(): number {
    const exp = this.exportArg();
    const oldPath = this.pathArg();
    const newPath = this.pathArg();
    const flags = this.r.u32();
    this.r.end();
    const o = this.parentOf(exp, oldPath);
    if (typeof o === 'number') return o;
    const n = this.parentOf(exp, newPath);
    if (typeof n === 'number') return n;
    if (o.name === '' || n.name === '') return -EBUSY;
    if (exp.ro) return this.roChangeErrno(o.dir, o.name);
    return native.renameat2(o.dir, o.name, n.dir, n.name, flags);
  }

  private setattr(): number {
    const exp = this.exportArg();
    const path = this.pathArg();
    const mask = this.r.u32();
    const mode = this.r.u32();
    const uid = this.r.u32();
    const gid = this.r.u32();
    const size = this.r.i64();
    const atimeSec = this.r.i64();
    const atimeNsec = this.r.u32();
    const mtimeSec = this.r.i64();
    const mtimeNsec = this.r.u32();
    this.r.end();
    if (mask & ~63) return -EINVAL;

    const fd = this.openPath(exp.fd, path);
    if (fd < 0) return fd;
    if (this.statFd(fd) < 0) return -EIO;
    const type = this.type;
    if (exp.ro && mask) return -EROFS;
    let r = 0;
    if (mask & (SetattrMask.UID | SetattrMask.GID)) {
      r = this.chown(fd, mask & SetattrMask.UID ? uid : -1, mask & SetattrMask.GID ? gid : -1);
      if (r < 0) return r;
    }
    if (mask & SetattrMask.MODE) {
      if (type === S_IFLNK) return -EOPNOTSUPP;
      r = native.chmodFd(fd, mode & 0o7777);
      if (r < 0) return r;
    }
    if (mask & SetattrMask.SIZE) {
      r = native.truncateFd(fd, size);
      if (r < 0) return r;
    }
    if (mask & (SetattrMask.ATIME | SetattrMask.MTIME)) {
      const times: [number, number, number, number] = [
        atimeSec,
        mask & SetattrMask.ATIME ? atimeNsec : UTIME_OMIT,
        mtimeSec,
        mask & SetattrMask.MTIME ? mtimeNsec : UTIME_OMIT,
      ];
      r = native.utimensat(fd, '', times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
      if (r < 0) return r;
    }
    if (this.statFd(fd) < 0) return -EIO;
    this.w.stat(this.stx);
    return 0;
  }

  private readlink(): number {
    const exp = this.exportArg();
    const path = this.pathArg();
    this.r.end();
    const fd = this.openPath(exp.fd, path);
    if (fd < 0) return fd;
    if (this.statFd(fd) < 0) return -EIO;
    if (this.type !== S_IFLNK) return -EINVAL;
    const t = native.readlinkat(fd, '');
    if (typeof t === 'number') return t;
    this.w.str(t);
    return 0;
  }

  private getxattr(op: number): number {
    const exp = this.exportArg();
    const path = this.pathArg();
    const name = op === Op.GETXATTR ? this.r.str() : '';
    const size = this.r.u32();
    this.r.end();
    if (name.includes('\0')) return -EINVAL;
    const fd = this.openPath(exp.fd, path);
    if (fd < 0) return fd;
    const cap = Math.min(size, MAX_XATTR_BYTES);
    const buf = cap === 0 ? this.empty : this.xbuf.subarray(0, cap);
    const n = op === Op.GETXATTR ? native.getxattrFd(fd, name, buf) : native.listxattrFd(fd, buf);
    if (n === -ERANGE && size > cap) return -E2BIG;
    if (n < 0) return n;
    this.w.bytes(cap === 0 ? this.empty : buf.subarray(0, n));
    return n;
  }

  private setxattr(op: number): number {
    const exp = this.exportArg();
    const path = this.pathArg();
    const name = this.r.str();
    const value = op === Op.SETXATTR ? this.r.bytes() : this.empty;
    const flags = op === Op.SETXATTR ? this.r.u32() : 0;
    this.r.end();
    if (name.includes('\0')) return -EINVAL;
    const fd = this.openPath(exp.fd, path);
    if (fd < 0) return fd;
    if (exp.ro) return -EROFS;
    return op === Op.SETXATTR ? native.setxattrFd(fd, name, value, flags) : native.removexattrFd(fd, name);
  }

  private statfs(): number {
    const exp = this.exportArg();
    const path = this.pathArg();
    this.r.end();
    const fd = this.openPath(exp.fd, path);
    if (fd < 0) return fd;
    const r = native.fstatfsFd(fd, this.sfs);
    if (r < 0) return r;
    this.w.f64s(this.sfs, STATFS_FIELDS);
    return 0;
  }

  private device(): number {
    const name = this.r.str();
    const flags = this.r.u32() | 0;
    this.r.end();
    const f = (flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW | O_PATH | O_CLOEXEC)) | O_NOCTTY | O_CLOEXEC;
    let dir: number;
    let file: string;
    let majors: readonly [number, number];
    let minor: number | undefined;
    const host = HOST_DEVICES.get(name);
    const pts = /^pts\/(0|[1-9]\d{0,6})$/.exec(name);
    // The sandbox's own terminals first: a given device never stands for them.
    const given = host || name === 'ptmx' || pts ? undefined : this.givenDevices.get(name);
    if (host) {
      [dir, file, majors, minor] = [this.devFd, name, [host[0], host[0]], host[1]];
    } else if (name === 'ptmx') {
      [dir, file, majors, minor] = [this.ptsFd, 'ptmx', [PTMX_RDEV[0], PTMX_RDEV[0]], PTMX_RDEV[1]];
    } else if (pts) {
      [dir, file, majors, minor] = [this.ptsFd, pts[1]!, [PTS_MAJOR_FIRST, PTS_MAJOR_LAST], undefined];
    } else if (given) {
      [dir, file, majors, minor] = [this.devFd, name, [given[0], given[0]], given[1]];
    } else {
      return -EACCES;
    }
    const fd = this.track(native.openat2(dir, file, f, 0, RESOLVE));
    if (fd < 0) return fd;
    if (this.statFd(fd) < 0) return -EIO;
    const major = this.stx[STATX.rdevMajor]!;
    if (
      this.type !== S_IFCHR ||
      major < majors[0] ||
      major > majors[1] ||
      (minor !== undefined && this.stx[STATX.rdevMinor] !== minor)
    ) {
      return -EACCES;
    }
    this.w.stat(this.stx);
    this.outFds.push(fd);
    return 0;
  }
}

// ---- start-up -----------------------------------------------------------------

function fail(msg: string): never {
  fs.writeSync(2, `tsvisor-gofer: ${msg}\n`);
  process.exit(2);
}

function check(r: number, what: string): number {
  if (r < 0) fail(`${what}: ${errnoName(r)}`);
  return r;
}

/**
 * A directory to mount the private tmpfs on. One fixed root-owned directory
 * is shared by every Gofer (each mounts over it in its own mount namespace),
 * so nothing accumulates on the host; a fresh mkdtemp directory is the
 * fallback if that path is not a plain directory owned by us with mode 0700.
 */
function privateMountPoint(): string {
  const fixed = '/tmp/.tsvisor-gofer';
  try {
    fs.mkdirSync(fixed, 0o700);
  } catch {
    // exists (checked below) or cannot be created
  }
  try {
    const st = fs.lstatSync(fixed);
    if (st.isDirectory() && st.uid === process.getuid!() && (st.mode & 0o7777) === 0o700) return fixed;
  } catch {
    // fall back
  }
  return fs.mkdtempSync('/tmp/tsvisor-gofer-');
}

/**
 * The sandbox's own devpts, its ptys apart from the host's. As root: in a
 * private mount namespace (nothing mounted here shows on the host, and host
 * mount changes no longer reach the exports), a tmpfs with a new devpts
 * instance on it. An ordinary user may make a mount namespace only inside a
 * user namespace of its own, where every file not the caller's would show
 * as owned by the overflow id 65534: the Gofer stays in the caller's
 * namespaces, and a helper child makes the instance in namespaces of its
 * own (docs/design.md, "Rootless").
 */
function privateDevpts(): number {
  if (process.geteuid!() !== 0) return check(native.devptsInstance(), 'making a devpts instance');
  check(native.unshare(CLONE_NEWNS), 'unshare(CLONE_NEWNS)');
  check(native.mount('', '/', '', MS_REC | MS_PRIVATE, ''), 'making mounts private');
  const priv = privateMountPoint();
  check(native.mount('tsvisor-gofer', priv, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, 'size=64k,nr_inodes=16,mode=0700'), `mount tmpfs on ${priv}`);
  fs.mkdirSync(`${priv}/pts`, 0o755);
  check(
    native.mount('devpts', `${priv}/pts`, 'devpts', MS_NOSUID | MS_NOEXEC, 'newinstance,ptmxmode=0666,mode=0620,gid=5'),
    `mount devpts on ${priv}/pts`,
  );
  return check(native.openat2(AT_FDCWD, `${priv}/pts`, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0), 'open devpts');
}

/** Process set-up, then the request loop. */
export function main(argv: readonly string[]): void {
  check(native.setPdeathsig(SIGKILL), 'prctl(PR_SET_PDEATHSIG)');
  const args = parseArgs(argv);
  if (typeof args === 'string') fail(args);
  native.umask(0); // modes arrive with the guest's umask already applied

  const sx = new Float64Array(STATX_FIELDS);
  if (native.statxFd(args.sock, sx) < 0 || (sx[STATX.mode]! & S_IFMT) !== S_IFSOCK) {
    fail(`fd ${args.sock} is not a socket`);
  }

  const ptsFd = privateDevpts();
  const sfs = new Float64Array(STATFS_FIELDS);
  if (native.fstatfsFd(ptsFd, sfs) < 0 || sfs[0] !== DEVPTS_SUPER_MAGIC) fail('the private devpts is not devpts');
  const devFd = check(native.openat2(AT_FDCWD, '/dev', O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0), 'open /dev');

  const roots: ExportRoot[] = [];
  const { exports, devices } = args.exportsOnSocket ? receiveExports(args.sock) : args;
  for (const e of exports) {
    // A directory, or a single regular file (Docker binds /etc/hosts and friends).
    const fd = native.openat2(AT_FDCWD, e.hostPath, O_PATH | O_CLOEXEC, 0, 0);
    if (fd < 0) fail(`export ${e.id} (${e.hostPath}): ${errnoName(fd)}`);
    const st = new Float64Array(STATX_FIELDS);
    const type = native.statxFd(fd, st) < 0 ? 0 : st[STATX.mode]! & S_IFMT;
    if (type !== S_IFDIR && type !== S_IFREG) fail(`export ${e.id} (${e.hostPath}): neither a directory nor a regular file`);
    roots.push({ id: e.id, ro: e.mode === 'ro', hostPath: e.hostPath, fd });
  }
  confine();
  new Gofer(args.sock, roots, devFd, ptsFd, devices).serve();
}

/**
 * From here on the Gofer may make only the calls it needs to serve requests
 * (GOFER_SYSCALLS, measured), on every thread; anything else fails with
 * EPERM. No exec, no ptrace, no mounts, no network.
 */
function confine(): void {
  const nrs = GOFER_SYSCALLS.map((name) => {
    const nr = NUMBERS[name];
    if (nr === undefined) fail(`unknown syscall ${name} in GOFER_SYSCALLS`);
    return nr;
  });
  check(native.setNoNewPrivs(), 'prctl(PR_SET_NO_NEW_PRIVS)');
  check(native.seccompInstall(encode(allowListFilter(nrs, 'EPERM')), SECCOMP_FILTER_FLAG_TSYNC), 'installing the seccomp filter');
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(fs.realpathSync(entry)).href) {
  main(process.argv.slice(2));
}
