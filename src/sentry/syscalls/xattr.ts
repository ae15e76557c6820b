// setxattr, lsetxattr, fsetxattr, getxattr, lgetxattr, fgetxattr, listxattr,
// llistxattr, flistxattr, removexattr, lremovexattr, fremovexattr.
import {
  AT_FDCWD,
  CAP_FSETID,
  CAP_SETFCAP,
  CAP_SYS_ADMIN,
  IN_ATTRIB,
  R_OK,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  S_ISVTX,
  UNMAPPED_ID,
  W_OK,
  XATTR_CREATE,
  XATTR_LIST_MAX,
  XATTR_NAME_MAX,
  XATTR_POSIX_ACL_DEFAULT,
  XATTR_REPLACE,
  XATTR_SECURITY_CAPABILITY,
  XATTR_SIZE_MAX,
  VFS_CAP_REVISION_2,
  VFS_CAP_REVISION_3,
  VFS_CAP_REVISION_MASK,
  XATTR_CAPS_SZ_2,
  XATTR_CAPS_SZ_3,
} from '../../abi/linux.js';
import { hasCap, hostIdOf, inGroup, ownerOrCapable, requireAccess } from '../creds.js';
import { fail } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { readBytes, readString, writeBytes } from '../memory.js';
import type { Task } from '../task.js';
import { GoferFs } from '../vfs/goferfs.js';
import type { Location, Via } from '../vfs/node.js';
import { type Acl, isAclName, parseAcl, validateAcl } from '../vfs/posixacl.js';
import type { Handler } from './dispatch.js';
import { mustBeWritable, notPath, resolveAt, throughFd } from './common.js';

/** The object an xattr call acts on; `via` when it came through an fd that is the node's host object. */
interface Obj {
  loc: Location;
  via?: Via;
}

function byPath(k: Kernel, t: Task, pathAddr: number, follow: boolean, f: (o: Obj) => number): number {
  return f({ loc: resolveAt(k, t, AT_FDCWD, pathAddr, follow)! });
}

function byFd(k: Kernel, t: Task, fd: number, f: (o: Obj) => number): number {
  return throughFd(k, t, fd, ({ file, via }) => {
    notPath(file);
    if (!file) fail('EOPNOTSUPP');
    return f({ loc: file.loc, via });
  });
}

function readName(t: Task, addr: number): string {
  const name = readString(t, addr, XATTR_NAME_MAX);
  // (the read may return a longer string when its NUL lies in the same page)
  if (name === '' || name.length > XATTR_NAME_MAX) fail('ERANGE');
  const ns = /^(user|trusted|security|system)\./.exec(name);
  if (!ns) fail('EOPNOTSUPP');
  // A namespace without a name in it.
  if (ns[0].length === name.length) fail('EINVAL');
  return name;
}

/** xattr_permission(): who may read or write which namespace. */
function mayXattr(t: Task, { loc, via }: Obj, name: string, want: number): void {
  const st = loc.dentry.node.stat(via);
  if (name.startsWith('trusted.')) {
    if (!hasCap(t.creds, CAP_SYS_ADMIN)) fail(want === W_OK ? 'EPERM' : 'ENODATA');
    return;
  }
  if (name.startsWith('user.')) {
    const type = st.mode & S_IFMT;
    if (type !== S_IFREG && type !== S_IFDIR) fail(want === W_OK ? 'EPERM' : 'ENODATA');
    if (type === S_IFDIR && st.mode & S_ISVTX && want === W_OK && !ownerOrCapable(t.creds, st.uid)) fail('EPERM');
  }
  // security.* and system.*: no permission bits, as in Linux's VFS; the
  // security module (CAP_SYS_ADMIN to write) and the ACL code (the owner) decide.
  if (name.startsWith('security.')) {
    // File capabilities need CAP_SETFCAP (cap_convert_nscap) on a file only
    // the sandbox sees; a host file's apply outside the sandbox too (the
    // Gofer writes them as the host's root, made the sandbox root's by
    // hostFileCaps), so there only CAP_SYS_ADMIN's holder may, as before.
    const fcaps = name === XATTR_SECURITY_CAPABILITY && !(loc.mount.fs instanceof GoferFs);
    if (want === W_OK && !hasCap(t.creds, fcaps ? CAP_SETFCAP : CAP_SYS_ADMIN)) fail('EPERM');
    return;
  }
  if (name.startsWith('system.')) {
    if (want === W_OK && !ownerOrCapable(t.creds, st.uid)) fail('EPERM');
    return;
  }
  requireAccess(t.creds, loc.dentry.node, st, want);
}

/** A symlink has no ACLs (tmpfs's symlinks have no get_acl or set_acl). */
function mustHaveAcls(o: Obj): void {
  if (o.loc.dentry.node.isSymlink()) fail('EOPNOTSUPP');
}

function getx(t: Task, o: Obj, nameAddr: number, buf: number, size: number): number {
  const name = readName(t, nameAddr);
  if (isAclName(name) && o.loc.dentry.node.keepsAcls()) mustHaveAcls(o);
  mayXattr(t, o, name, R_OK);
  const v = o.loc.dentry.node.getxattr(name, o.via);
  if (!v) fail('ENODATA');
  if (size === 0) return v.length;
  if (size < v.length) fail('ERANGE');
  writeBytes(t, buf, v);
  return v.length;
}

/**
 * File capabilities for a host file as Linux's cap_convert_nscap writes them
 * for a task of the sandbox's user namespace: the Gofer writes as the host's
 * root, so a version 2 value (or a version 3 one naming a sandbox id) would
 * be taken for the host root's, honoured by every process of the host.
 * Version 3 with the host id of the sandbox's root (of the root id a version
 * 3 value names; EINVAL when unmapped); as given when that is the host's root.
 */
function hostFileCaps(value: Buffer): Buffer {
  const root = hostIdOf('uid', 0);
  if (root === 0 || value.length < 4) return value;
  const rev = value.readUInt32LE(0) & VFS_CAP_REVISION_MASK;
  if (rev === VFS_CAP_REVISION_2 && value.length === XATTR_CAPS_SZ_2) {
    const v3 = Buffer.alloc(XATTR_CAPS_SZ_3);
    value.copy(v3);
    v3.writeUInt32LE(((value.readUInt32LE(0) & ~VFS_CAP_REVISION_MASK) | VFS_CAP_REVISION_3) >>> 0, 0);
    v3.writeUInt32LE(root, XATTR_CAPS_SZ_2);
    return v3;
  }
  if (rev === VFS_CAP_REVISION_3 && value.length === XATTR_CAPS_SZ_3) {
    const id = hostIdOf('uid', value.readUInt32LE(XATTR_CAPS_SZ_2));
    if (id < 0) fail('EINVAL');
    const v3 = Buffer.from(value);
    v3.writeUInt32LE(id, XATTR_CAPS_SZ_2);
    return v3;
  }
  return value;
}

/**
 * vfs_set_acl on a file system that keeps POSIX ACLs itself: `acl` null
 * removes it. A default ACL only on a directory (EACCES; removing one
 * elsewhere does nothing), set by the owner (EPERM), valid (EINVAL).
 */
function setAcl(t: Task, o: Obj, name: string, acl: Acl | null): void {
  mustHaveAcls(o);
  const { loc, via } = o;
  const node = loc.dentry.node;
  const st = node.stat(via);
  if (name === XATTR_POSIX_ACL_DEFAULT && (st.mode & S_IFMT) !== S_IFDIR) {
    if (acl) fail('EACCES');
    return;
  }
  if (!ownerOrCapable(t.creds, st.uid)) fail('EPERM');
  if (acl) validateAcl(acl);
  const mapped = st.uid !== UNMAPPED_ID && st.gid !== UNMAPPED_ID;
  node.setAcl(name, acl, inGroup(t.creds, st.gid) || (mapped && hasCap(t.creds, CAP_FSETID)));
}

function setx(k: Kernel, t: Task, o: Obj, nameAddr: number, valAddr: number, size: number, flags: number): number {
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) fail('EINVAL');
  if (size > XATTR_SIZE_MAX) fail('E2BIG');
  const name = readName(t, nameAddr);
  let value = readBytes(t, valAddr, size);
  mustBeWritable(o.loc);
  if (isAclName(name) && o.loc.dentry.node.keepsAcls()) {
    // Linux sets ACLs past the xattr checks and flags; an empty value removes one.
    setAcl(t, o, name, size ? parseAcl(value) : null);
    k.inotify.event(o.loc.dentry, IN_ATTRIB);
    return 0;
  }
  mayXattr(t, o, name, W_OK);
  if (name === XATTR_SECURITY_CAPABILITY && o.loc.mount.fs instanceof GoferFs) value = hostFileCaps(value);
  o.loc.dentry.node.setxattr(name, value, flags, o.via);
  k.inotify.event(o.loc.dentry, IN_ATTRIB);
  return 0;
}

function listx(t: Task, o: Obj, buf: number, size: number): number {
  const names = o.loc.dentry.node.listxattr(o.via).filter((n) => !n.startsWith('trusted.') || hasCap(t.creds, CAP_SYS_ADMIN));
  const b = Buffer.from(names.map((n) => `${n}\0`).join(''), 'latin1');
  if (b.length > XATTR_LIST_MAX) fail('E2BIG');
  if (size === 0) return b.length;
  if (size < b.length) fail('ERANGE');
  writeBytes(t, buf, b);
  return b.length;
}

function removex(k: Kernel, t: Task, o: Obj, nameAddr: number): number {
  const name = readName(t, nameAddr);
  mustBeWritable(o.loc);
  if (isAclName(name) && o.loc.dentry.node.keepsAcls()) setAcl(t, o, name, null);
  else {
    mayXattr(t, o, name, W_OK);
    o.loc.dentry.node.removexattr(name, o.via);
  }
  k.inotify.event(o.loc.dentry, IN_ATTRIB);
  return 0;
}

export const xattrHandlers: Record<string, Handler> = {
  getxattr: (k, t, a) => byPath(k, t, a.long(0), true, (o) => getx(t, o, a.long(1), a.long(2), a.long(3))),
  lgetxattr: (k, t, a) => byPath(k, t, a.long(0), false, (o) => getx(t, o, a.long(1), a.long(2), a.long(3))),
  fgetxattr: (k, t, a) => byFd(k, t, a.int(0), (o) => getx(t, o, a.long(1), a.long(2), a.long(3))),
  setxattr: (k, t, a) => byPath(k, t, a.long(0), true, (o) => setx(k, t, o, a.long(1), a.long(2), a.long(3), a.int(4))),
  lsetxattr: (k, t, a) => byPath(k, t, a.long(0), false, (o) => setx(k, t, o, a.long(1), a.long(2), a.long(3), a.int(4))),
  fsetxattr: (k, t, a) => byFd(k, t, a.int(0), (o) => setx(k, t, o, a.long(1), a.long(2), a.long(3), a.int(4))),
  listxattr: (k, t, a) => byPath(k, t, a.long(0), true, (o) => listx(t, o, a.long(1), a.long(2))),
  llistxattr: (k, t, a) => byPath(k, t, a.long(0), false, (o) => listx(t, o, a.long(1), a.long(2))),
  flistxattr: (k, t, a) => byFd(k, t, a.int(0), (o) => listx(t, o, a.long(1), a.long(2))),
  removexattr: (k, t, a) => byPath(k, t, a.long(0), true, (o) => removex(k, t, o, a.long(1))),
  lremovexattr: (k, t, a) => byPath(k, t, a.long(0), false, (o) => removex(k, t, o, a.long(1))),
  fremovexattr: (k, t, a) => byFd(k, t, a.int(0), (o) => removex(k, t, o, a.long(1))),
};
