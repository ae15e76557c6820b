// setxattr, lsetxattr, fsetxattr, getxattr, lgetxattr, fgetxattr, listxattr,
// llistxattr, flistxattr, removexattr, lremovexattr, fremovexattr.
import {
  AT_FDCWD,
  CAP_SYS_ADMIN,
  IN_ATTRIB,
  R_OK,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  S_ISVTX,
  W_OK,
  XATTR_CREATE,
  XATTR_LIST_MAX,
  XATTR_NAME_MAX,
  XATTR_REPLACE,
  XATTR_SIZE_MAX,
} from '../../abi/linux.js';
import { hasCap, ownerOrCapable, requireAccess } from '../creds.js';
import { fail } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { readBytes, readString, writeBytes } from '../memory.js';
import type { Task } from '../task.js';
import type { Location } from '../vfs/node.js';
import type { Handler } from './dispatch.js';
import { mustBeWritable, resolveAt } from './common.js';

function byPath(k: Kernel, t: Task, pathAddr: number, follow: boolean): Location {
  return resolveAt(k, t, AT_FDCWD, pathAddr, follow)!;
}

function byFd(k: Kernel, t: Task, fd: number): Location {
  const { file } = k.files.lookup(t, fd);
  if (!file) fail('EOPNOTSUPP');
  return file.loc;
}

function readName(t: Task, addr: number): string {
  const name = readString(t, addr, XATTR_NAME_MAX);
  // (the read may return a longer string when its NUL lies in the same page)
  if (name === '' || name.length > XATTR_NAME_MAX) fail('ERANGE');
  if (!/^(user|trusted|security|system)\./.test(name)) fail('EOPNOTSUPP');
  return name;
}

/** xattr_permission(): who may read or write which namespace. */
function mayXattr(t: Task, loc: Location, name: string, want: number): void {
  const st = loc.dentry.node.stat();
  if (name.startsWith('trusted.')) {
    if (!hasCap(t.creds, CAP_SYS_ADMIN)) fail(want === W_OK ? 'EPERM' : 'ENODATA');
    return;
  }
  if (name.startsWith('user.')) {
    const type = st.mode & S_IFMT;
    if (type !== S_IFREG && type !== S_IFDIR) fail(want === W_OK ? 'EPERM' : 'ENODATA');
    if (type === S_IFDIR && st.mode & S_ISVTX && want === W_OK && !ownerOrCapable(t.creds, st.uid)) fail('EPERM');
  }
  if (name.startsWith('security.') && want === W_OK && !hasCap(t.creds, CAP_SYS_ADMIN)) fail('EPERM');
  requireAccess(t.creds, st.mode, st.uid, st.gid, want);
}

function getx(t: Task, loc: Location, nameAddr: number, buf: number, size: number): number {
  const name = readName(t, nameAddr);
  mayXattr(t, loc, name, R_OK);
  const v = loc.dentry.node.getxattr(name);
  if (!v) fail('ENODATA');
  if (size === 0) return v.length;
  if (size < v.length) fail('ERANGE');
  writeBytes(t, buf, v);
  return v.length;
}

function setx(k: Kernel, t: Task, loc: Location, nameAddr: number, valAddr: number, size: number, flags: number): number {
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) fail('EINVAL');
  if (size > XATTR_SIZE_MAX) fail('E2BIG');
  const name = readName(t, nameAddr);
  const value = readBytes(t, valAddr, size);
  mustBeWritable(loc);
  mayXattr(t, loc, name, W_OK);
  loc.dentry.node.setxattr(name, value, flags);
  k.inotify.event(loc.dentry, IN_ATTRIB);
  return 0;
}

function listx(t: Task, loc: Location, buf: number, size: number): number {
  const names = loc.dentry.node.listxattr().filter((n) => !n.startsWith('trusted.') || hasCap(t.creds, CAP_SYS_ADMIN));
  const b = Buffer.from(names.map((n) => `${n}\0`).join(''), 'latin1');
  if (b.length > XATTR_LIST_MAX) fail('E2BIG');
  if (size === 0) return b.length;
  if (size < b.length) fail('ERANGE');
  writeBytes(t, buf, b);
  return b.length;
}

function removex(k: Kernel, t: Task, loc: Location, nameAddr: number): number {
  const name = readName(t, nameAddr);
  mustBeWritable(loc);
  mayXattr(t, loc, name, W_OK);
  loc.dentry.node.removexattr(name);
  k.inotify.event(loc.dentry, IN_ATTRIB);
  return 0;
}

export const xattrHandlers: Record<string, Handler> = {
  getxattr: (k, t, a) => getx(t, byPath(k, t, a.long(0), true), a.long(1), a.long(2), a.long(3)),
  lgetxattr: (k, t, a) => getx(t, byPath(k, t, a.long(0), false), a.long(1), a.long(2), a.long(3)),
  fgetxattr: (k, t, a) => getx(t, byFd(k, t, a.int(0)), a.long(1), a.long(2), a.long(3)),
  setxattr: (k, t, a) => setx(k, t, byPath(k, t, a.long(0), true), a.long(1), a.long(2), a.long(3), a.int(4)),
  lsetxattr: (k, t, a) => setx(k, t, byPath(k, t, a.long(0), false), a.long(1), a.long(2), a.long(3), a.int(4)),
  fsetxattr: (k, t, a) => setx(k, t, byFd(k, t, a.int(0)), a.long(1), a.long(2), a.long(3), a.int(4)),
  listxattr: (k, t, a) => listx(t, byPath(k, t, a.long(0), true), a.long(1), a.long(2)),
  llistxattr: (k, t, a) => listx(t, byPath(k, t, a.long(0), false), a.long(1), a.long(2)),
  flistxattr: (k, t, a) => listx(t, byFd(k, t, a.int(0)), a.long(1), a.long(2)),
  removexattr: (k, t, a) => removex(k, t, byPath(k, t, a.long(0), true), a.long(1)),
  lremovexattr: (k, t, a) => removex(k, t, byPath(k, t, a.long(0), false), a.long(1)),
  fremovexattr: (k, t, a) => removex(k, t, byFd(k, t, a.int(0)), a.long(1)),
};
