// stat, lstat, fstat, newfstatat, statx, access, faccessat, faccessat2, statfs, fstatfs.
import {
  AT_EACCESS,
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_NO_AUTOMOUNT,
  AT_STATX_SYNC_TYPE,
  AT_SYMLINK_NOFOLLOW,
  F_OK,
  R_OK,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  ST_NODEV,
  ST_NOEXEC,
  ST_NOSUID,
  ST_RDONLY,
  ST_RELATIME,
  ST_VALID,
  STATX_BASIC_STATS,
  STATX_BTIME,
  STATX_MNT_ID,
  STATX__RESERVED,
  W_OK,
  X_OK,
  major,
  minor,
} from '../../abi/linux.js';
import { type Stat, type StatFs, writeStat, writeStatfs, writeStatx } from '../../abi/structs.js';
import { native } from '../../platform/native.js';
import { type Creds, permitted } from '../creds.js';
import { check, fail } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { readPath, writeBytes } from '../memory.js';
import type { Task } from '../task.js';
import type { MountOptions } from '../vfs/node.js';
import { hostObjectOwners } from '../vfs/devfs.js';
import { statFromStatx } from '../vfs/goferfs.js';
import type { Handler } from './dispatch.js';
import { fdLocation, namesFd, resolveAt, resolvePathAt, throughFd } from './common.js';

const out = Buffer.alloc(256);
/** struct statx's stx_mnt_id */
const STATX_MNT_ID_OFFSET = 144;

/** Attributes of whatever guest fd `fd` is. */
export function statFd(k: Kernel, t: Task, fd: number): Stat {
  return throughFd(k, t, fd, ({ id, file, via }) => {
    if (file) return file.loc.dentry.node.stat(via);
    const s = statFromStatx(id.sx);
    [s.uid, s.gid] = hostObjectOwners(k, id.sx);
    return s;
  });
}

/** Attributes for (dirfd, path, flags) with AT_EMPTY_PATH/AT_SYMLINK_NOFOLLOW. */
function statAt(k: Kernel, t: Task, dirfd: number, pathAddr: number, flags: number): Stat {
  const path = readPath(t, pathAddr);
  if (namesFd(dirfd, path, flags)) return statFd(k, t, dirfd);
  return resolvePathAt(k, t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), flags)!.dentry.node.stat();
}

function putStat(t: Task, addr: number, s: Stat): number {
  writeStat(out, s);
  writeBytes(t, addr, out, 144);
  return 0;
}

const STAT_FLAGS = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT;
const STATX_FLAGS = STAT_FLAGS | AT_STATX_SYNC_TYPE;

/** access() checks with the real ids; root keeps its capabilities. */
function accessCreds(c: Creds, flags: number): Creds {
  if (flags & AT_EACCESS) return c;
  return { ...c, fsuid: c.uid, fsgid: c.gid, capEff: c.uid === 0 ? c.capEff : 0n };
}

function accessAt(k: Kernel, t: Task, dirfd: number, pathAddr: number, mode: number, flags: number): number {
  if (mode & ~(R_OK | W_OK | X_OK)) fail('EINVAL');
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) fail('EINVAL');
  const path = readPath(t, pathAddr);
  const ofFd = namesFd(dirfd, path, flags);
  const loc = ofFd ? fdLocation(k, t, dirfd) : resolvePathAt(k, t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), flags);
  const st = ofFd ? statFd(k, t, dirfd) : loc!.dentry.node.stat();
  if (mode === F_OK) return 0;
  const type = st.mode & S_IFMT;
  if (mode & W_OK && loc?.mount.opts.readonly && (type === S_IFREG || type === S_IFDIR || type === S_IFLNK)) fail('EROFS');
  const c = accessCreds(t.creds, flags);
  if (!(loc ? loc.dentry.node.permits(c, st, mode) : permitted(c, st.mode, st.uid, st.gid, mode))) fail('EACCES');
  return 0;
}

/** f_flags: the flags of the mount (as in /proc/self/mountinfo), as Linux reports them. */
function mountFlags(o: MountOptions): number {
  return ST_VALID | (o.strictatime ? 0 : ST_RELATIME) | (o.readonly ? ST_RDONLY : 0) | (o.nosuid ? ST_NOSUID : 0) | (o.nodev ? ST_NODEV : 0) | (o.noexec ? ST_NOEXEC : 0);
}

function statfsOf(k: Kernel, t: Task, loc: ReturnType<typeof resolveAt>, fd: number): StatFs {
  if (loc) return { ...loc.mount.fs.statfs(), flags: mountFlags(loc.mount.opts) };
  const id = k.files.identify(t, fd);
  try {
    const f = new Float64Array(12);
    check(native.fstatfsFd(id.fd, f));
    return {
      type: f[0]!, bsize: f[1]!, blocks: f[2]!, bfree: f[3]!, bavail: f[4]!, files: f[5]!, ffree: f[6]!,
      fsid: [f[7]!, f[8]!], namelen: f[9]!, frsize: f[10]!, flags: f[11]!,
    };
  } finally {
    native.close(id.fd);
  }
}

function putStatfs(t: Task, addr: number, s: StatFs): number {
  writeStatfs(out, s);
  writeBytes(t, addr, out, 120);
  return 0;
}

export const statHandlers: Record<string, Handler> = {
  stat: (k, t, a) => putStat(t, a.long(1), statAt(k, t, AT_FDCWD, a.long(0), 0)),
  lstat: (k, t, a) => putStat(t, a.long(1), statAt(k, t, AT_FDCWD, a.long(0), AT_SYMLINK_NOFOLLOW)),
  fstat: (k, t, a) => putStat(t, a.long(1), statFd(k, t, a.int(0))),
  newfstatat: (k, t, a) => {
    const flags = a.int(3);
    if (flags & ~STAT_FLAGS) fail('EINVAL');
    return putStat(t, a.long(2), statAt(k, t, a.int(0), a.long(1), flags));
  },
  statx: (k, t, a) => {
    const flags = a.int(2);
    const mask = a.u32(3);
    if (flags & ~STATX_FLAGS || (flags & AT_STATX_SYNC_TYPE) === AT_STATX_SYNC_TYPE) fail('EINVAL');
    if (mask & STATX__RESERVED) fail('EINVAL');
    const dirfd = a.int(0);
    const path = readPath(t, a.long(1));
    const ofFd = namesFd(dirfd, path, flags);
    const loc = ofFd ? fdLocation(k, t, dirfd) : resolvePathAt(k, t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), flags);
    const s = ofFd ? statFd(k, t, dirfd) : loc!.dentry.node.stat();
    // The mount's id, as /proc/self/mountinfo shows it (an fd the Sentry did not make has none).
    writeStatx(out, s, STATX_BASIC_STATS | STATX_BTIME | (loc ? STATX_MNT_ID : 0), major, minor);
    if (loc) out.writeBigUInt64LE(BigInt(loc.mount.id), STATX_MNT_ID_OFFSET);
    writeBytes(t, a.long(4), out, 256);
    return 0;
  },
  access: (k, t, a) => accessAt(k, t, AT_FDCWD, a.long(0), a.int(1), 0),
  faccessat: (k, t, a) => accessAt(k, t, a.int(0), a.long(1), a.int(2), 0),
  faccessat2: (k, t, a) => accessAt(k, t, a.int(0), a.long(1), a.int(2), a.int(3)),
  statfs: (k, t, a) => putStatfs(t, a.long(1), statfsOf(k, t, resolveAt(k, t, AT_FDCWD, a.long(0), true), -1)),
  fstatfs: (k, t, a) => {
    const fd = a.int(0);
    const file = k.files.lookup(t, fd).file;
    return putStatfs(t, a.long(1), statfsOf(k, t, file?.loc, fd));
  },
};
