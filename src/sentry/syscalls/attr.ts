// chmod, fchmod, fchmodat, chown, fchown, lchown, fchownat, utime, utimes, futimesat, utimensat, umask.
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  CAP_CHOWN,
  CAP_FSETID,
  S_IFMT,
  S_IFREG,
  S_ISGID,
  UNMAPPED_ID,
  UTIME_NOW,
  UTIME_OMIT,
  W_OK,
  execSetidBits,
} from '../../abi/linux.js';
import type { Stat } from '../../abi/structs.js';
import { STATX, native } from '../../platform/native.js';
import { type Creds, hasCap, hostIdOf, inGroup, isMappedHostId, ownerInSandbox, ownerOrCapable, permitted } from '../creds.js';
import { check, fail } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { readBytes, readPath } from '../memory.js';
import type { Task } from '../task.js';
import type { Node, SetAttr, Via } from '../vfs/node.js';
import type { Handler } from './dispatch.js';
import { mustBeWritable, namesFd, notPath, resolvePathAt } from './common.js';
import { statFromStatx } from '../vfs/goferfs.js';

/**
 * The object a call acts on: a node of the Sentry's tree, or (for a guest fd
 * the Sentry did not create: a pipe, a socket) the Sentry's copy of that fd.
 */
interface Target {
  node?: Node;
  /** reports the change to inotify (objects of the Sentry's tree) */
  changed?: (attr: SetAttr) => void;
  /** the Sentry's copy of the guest fd the call named (closed by apply) */
  hostFd?: number;
  /** the copy, when it is the node's own host object */
  via?: Via;
  st: Stat;
  /** the guest's credentials as they apply to this object */
  creds: Creds;
}

/**
 * Credentials for a host object the Sentry did not create, as Linux would
 * apply them: with the owner or group unmapped in the sandbox's user
 * namespace, the guest is not its owner and its capabilities do not count.
 */
function credsForHostObject(t: Task, sx: Float64Array, st: Stat): Creds {
  const uidMapped = isMappedHostId('uid', sx[STATX.uid]!);
  if (!uidMapped) st.uid = -1;
  if (uidMapped && isMappedHostId('gid', sx[STATX.gid]!)) return t.creds;
  return { ...t.creds, capEff: 0n };
}

/** The guest's credentials for an object of the Sentry's view: without its capabilities when the owner or group is one the sandbox does not map, as Linux applies them. */
function credsForOwners(c: Creds, st: Stat): Creds {
  return st.uid === UNMAPPED_ID || st.gid === UNMAPPED_ID ? { ...c, capEff: 0n } : c;
}

/** The object of (dirfd, path): by path, or the fd itself for an empty path with AT_EMPTY_PATH. */
function target(k: Kernel, t: Task, dirfd: number, pathAddr: number, follow: boolean, flags: number): Target {
  const path = readPath(t, pathAddr);
  if (!namesFd(dirfd, path, flags)) {
    const loc = resolvePathAt(k, t, dirfd, path, follow, flags)!;
    mustBeWritable(loc);
    const st = loc.dentry.node.stat();
    return { node: loc.dentry.node, st, creds: credsForOwners(t.creds, st), changed: (a) => k.inotify.changed(loc.dentry, a) };
  }
  return fdTarget(k, t, dirfd, false);
}

/** The object behind guest fd `fd` (fchmod, fchown, futimens...: `fdCall`, which O_PATH fds refuse). */
function fdTarget(k: Kernel, t: Task, fd: number, fdCall: boolean): Target {
  const id = k.files.identify(t, fd);
  const file = id.file;
  try {
    if (fdCall) notPath(file);
    if (file) {
      mustBeWritable(file.loc);
      const via = file.direct ? { fd: id.fd, sx: id.sx } : undefined;
      const loc = file.loc;
      const node = loc.dentry.node;
      const st = node.stat(via);
      return { node, hostFd: id.fd, via, st, creds: credsForOwners(t.creds, st), changed: (a) => k.inotify.changed(loc.dentry, a) };
    }
    const st = statFromStatx(id.sx);
    st.uid = ownerInSandbox('uid', st.uid);
    st.gid = ownerInSandbox('gid', st.gid);
    return { hostFd: id.fd, st, creds: credsForHostObject(t, id.sx, st) };
  } catch (e) {
    native.close(id.fd);
    throw e;
  }
}

function apply(tg: Target, attr: SetAttr): number {
  try {
    if (tg.node) {
      tg.node.setattr(attr, tg.via);
      tg.changed?.(attr);
    } else if (attr.mode !== undefined) {
      check(native.fchmod(tg.hostFd!, attr.mode));
    } else if (attr.atime || attr.mtime) {
      const at = attr.atime ?? [0, UTIME_OMIT];
      const mt = attr.mtime ?? [0, UTIME_OMIT];
      check(native.futimens(tg.hostFd!, [at[0], at[1], mt[0], mt[1]]));
    } else {
      // A pipe, a socket, a host file given as stdio: its host owner is the
      // sandbox id as the guest's user namespace maps it.
      const uid = attr.uid === undefined ? -1 : hostIdOf('uid', attr.uid);
      const gid = attr.gid === undefined ? -1 : hostIdOf('gid', attr.gid);
      check(native.fchownat(tg.hostFd!, '', uid, gid, AT_EMPTY_PATH));
    }
  } finally {
    release(tg);
  }
  return 0;
}

function release(tg: Target): void {
  if (tg.hostFd !== undefined) native.close(tg.hostFd);
}

function chmodTarget(tg: Target, mode: number): number {
  if (!ownerOrCapable(tg.creds, tg.st.uid)) {
    release(tg);
    fail('EPERM');
  }
  mode &= 0o7777;
  if (mode & S_ISGID && !inGroup(tg.creds, tg.st.gid) && !hasCap(tg.creds, CAP_FSETID)) mode &= ~S_ISGID;
  return apply(tg, { mode });
}

function chownTarget(tg: Target, uid: number, gid: number): number {
  const c = tg.creds;
  const st = tg.st;
  const changeUid = uid !== -1 && uid !== st.uid;
  const changeGid = gid !== -1 && gid !== st.gid;
  // Linux's chown_common checks the ids first: an id the sandbox's user namespace does not map.
  if ((uid !== -1 && hostIdOf('uid', uid) < 0) || (gid !== -1 && hostIdOf('gid', gid) < 0)) {
    release(tg);
    fail('EINVAL');
  }
  const ok =
    (!changeUid || hasCap(c, CAP_CHOWN)) &&
    (!changeGid || hasCap(c, CAP_CHOWN) || (c.fsuid === st.uid && inGroup(c, gid))) &&
    (uid === -1 && gid === -1 ? true : c.fsuid === st.uid || hasCap(c, CAP_CHOWN));
  if (!ok) {
    release(tg);
    fail('EPERM');
  }
  const attr: SetAttr = {};
  if (uid !== -1) attr.uid = uid;
  if (gid !== -1) attr.gid = gid;
  // Changing ownership of a non-directory drops set-user-ID, and set-group-ID when group-executable.
  if ((uid !== -1 || gid !== -1) && (st.mode & S_IFMT) === S_IFREG && execSetidBits(st.mode)) attr.mode = st.mode & 0o7777 & ~execSetidBits(st.mode);
  return apply(tg, attr);
}

function utimesTarget(tg: Target, atime: [number, number], mtime: [number, number]): number {
  const c = tg.creds;
  const toNow = (atime[1] === UTIME_NOW || atime[1] === UTIME_OMIT) && (mtime[1] === UTIME_NOW || mtime[1] === UTIME_OMIT);
  const ok = ownerOrCapable(c, tg.st.uid) || (toNow && (tg.node ? tg.node.permits(c, tg.st, W_OK) : permitted(c, tg.st.mode, tg.st.uid, tg.st.gid, W_OK)));
  if (!ok) {
    release(tg);
    fail(toNow ? 'EACCES' : 'EPERM');
  }
  if (atime[1] === UTIME_OMIT && mtime[1] === UTIME_OMIT) {
    release(tg);
    return 0;
  }
  return apply(tg, { atime, mtime });
}

function validNsec(ns: number): boolean {
  return (ns >= 0 && ns < 1e9) || ns === UTIME_NOW || ns === UTIME_OMIT;
}

/** utimensat's struct timespec[2]; NULL means "now" for both. */
function readTimespecs(t: Task, addr: number): [[number, number], [number, number]] {
  if (addr === 0) return [[0, UTIME_NOW], [0, UTIME_NOW]];
  const b = readBytes(t, addr, 32);
  const a: [number, number] = [Number(b.readBigInt64LE(0)), Number(b.readBigInt64LE(8))];
  const m: [number, number] = [Number(b.readBigInt64LE(16)), Number(b.readBigInt64LE(24))];
  if (!validNsec(a[1]) || !validNsec(m[1])) fail('EINVAL');
  return [a, m];
}

/** utimes'/futimesat's struct timeval[2]. */
function readTimevals(t: Task, addr: number): [[number, number], [number, number]] {
  if (addr === 0) return [[0, UTIME_NOW], [0, UTIME_NOW]];
  const b = readBytes(t, addr, 32);
  const us = (off: number): [number, number] => {
    const usec = Number(b.readBigInt64LE(off + 8));
    if (usec < 0 || usec >= 1e6) fail('EINVAL');
    return [Number(b.readBigInt64LE(off)), usec * 1000];
  };
  return [us(0), us(16)];
}

export const attrHandlers: Record<string, Handler> = {
  chmod: (k, t, a) => chmodTarget(target(k, t, AT_FDCWD, a.long(0), true, 0), a.u32(1)),
  fchmod: (k, t, a) => chmodTarget(fdTarget(k, t, a.int(0), true), a.u32(1)),
  fchmodat: (k, t, a) => chmodTarget(target(k, t, a.int(0), a.long(1), true, 0), a.u32(2)),
  chown: (k, t, a) => chownTarget(target(k, t, AT_FDCWD, a.long(0), true, 0), a.int(1), a.int(2)),
  lchown: (k, t, a) => chownTarget(target(k, t, AT_FDCWD, a.long(0), false, 0), a.int(1), a.int(2)),
  fchown: (k, t, a) => chownTarget(fdTarget(k, t, a.int(0), true), a.int(1), a.int(2)),
  fchownat: (k, t, a) => {
    const flags = a.int(4);
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) fail('EINVAL');
    return chownTarget(target(k, t, a.int(0), a.long(1), !(flags & AT_SYMLINK_NOFOLLOW), flags), a.int(2), a.int(3));
  },
  utimensat: (k, t, a) => {
    const [at, mt] = readTimespecs(t, a.long(2));
    // Nothing to change: Linux returns before it looks at the flags or the path.
    if (at[1] === UTIME_OMIT && mt[1] === UTIME_OMIT) return 0;
    const flags = a.int(3);
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) fail('EINVAL');
    // A NULL path acts on dirfd itself (futimens); AT_FDCWD has no object.
    if (a.long(1) === 0) {
      if (a.int(0) === AT_FDCWD) fail('EFAULT');
      if (flags) fail('EINVAL');
      return utimesTarget(fdTarget(k, t, a.int(0), true), at, mt);
    }
    return utimesTarget(target(k, t, a.int(0), a.long(1), !(flags & AT_SYMLINK_NOFOLLOW), flags), at, mt);
  },
  utimes: (k, t, a) => {
    const [at, mt] = readTimevals(t, a.long(1));
    return utimesTarget(target(k, t, AT_FDCWD, a.long(0), true, 0), at, mt);
  },
  futimesat: (k, t, a) => {
    const [at, mt] = readTimevals(t, a.long(2));
    if (a.long(1) === 0) {
      if (a.int(0) === AT_FDCWD) fail('EFAULT');
      return utimesTarget(fdTarget(k, t, a.int(0), true), at, mt);
    }
    return utimesTarget(target(k, t, a.int(0), a.long(1), true, 0), at, mt);
  },
  utime: (k, t, a) => {
    let at: [number, number] = [0, UTIME_NOW];
    let mt: [number, number] = [0, UTIME_NOW];
    if (a.long(1) !== 0) {
      const b = readBytes(t, a.long(1), 16);
      at = [Number(b.readBigInt64LE(0)), 0];
      mt = [Number(b.readBigInt64LE(8)), 0];
    }
    return utimesTarget(target(k, t, AT_FDCWD, a.long(0), true, 0), at, mt);
  },
  umask: (_k, t, a) => {
    const old = t.fs.umask;
    t.fs.umask = a.u32(0) & 0o777;
    return old;
  },
};
