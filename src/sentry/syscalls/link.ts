// unlink, unlinkat, rename, renameat, renameat2, link, linkat, symlink, symlinkat, readlink, readlinkat.
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_REMOVEDIR,
  AT_SYMLINK_FOLLOW,
  CAP_DAC_READ_SEARCH,
  CAP_FOWNER,
  R_OK,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  RENAME_WHITEOUT,
  S_IFMT,
  S_IFREG,
  W_OK,
  execSetidBits,
} from '../../abi/linux.js';
import type { Stat } from '../../abi/structs.js';
import { hasCap, mayDeleteChild, requireAccess } from '../creds.js';
import { fail } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { readPath, writeBytes } from '../memory.js';
import type { Task } from '../task.js';
import type { Dentry, Location, Node } from '../vfs/node.js';
import { lookupChild } from '../vfs/resolve.js';
import type { Handler } from './dispatch.js';
import { assertValid, mayModifyDir, namedOnly, parentAt, resolveAt, resolvePathAt } from './common.js';
import { isMountBusy, mayRemove, rmdirAt } from './dir.js';

function unlinkAt(k: Kernel, t: Task, dirfd: number, pathAddr: number, flags: number): number {
  if (flags & ~AT_REMOVEDIR) fail('EINVAL');
  if (flags & AT_REMOVEDIR) return rmdirAt(k, t, dirfd, pathAddr);
  const { parent, name, trailingSlash } = parentAt(k, t, dirfd, pathAddr);
  if (name === '' || name === '.' || name === '..') fail('EISDIR');
  const child = lookupChild(parent, name);
  if (!child) fail('ENOENT');
  if (child.dentry.node.isDir()) fail('EISDIR');
  if (trailingSlash) fail('ENOTDIR');
  if (isMountBusy(child)) fail('EBUSY');
  mayRemove(t, parent, child);
  parent.dentry.node.unlink(name, child.dentry.node);
  child.dentry.detach();
  k.inotify.removed(parent.dentry.node, name, child.dentry.node);
  return 0;
}

function isAncestor(a: Dentry, d: Dentry): boolean {
  for (let p: Dentry | null = d; p; p = p.parent) if (p === a) return true;
  return false;
}

/** Moves a cached dentry (and the node's own idea of where it is) after a rename. */
function moveDentry(d: Dentry, from: Dentry, oldName: string, to: Dentry, newName: string): void {
  from.forget(oldName);
  to.forget(newName);
  d.name = newName;
  d.parent = to;
  d.node.moved(to.node, newName);
  to.cacheChild(newName, d);
}

function renameAt(k: Kernel, t: Task, olddirfd: number, oldAddr: number, newdirfd: number, newAddr: number, flags: number): number {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) fail('EINVAL');
  if (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE) fail('EINVAL');
  if (flags & RENAME_WHITEOUT) fail('EINVAL');
  const op = parentAt(k, t, olddirfd, oldAddr);
  const np = parentAt(k, t, newdirfd, newAddr);
  if (op.parent.mount !== np.parent.mount) fail('EXDEV');
  const bad = (n: string) => n === '' || n === '.' || n === '..';
  if (bad(op.name)) fail('EBUSY');
  if (bad(np.name)) fail(flags & RENAME_NOREPLACE ? 'EEXIST' : 'EBUSY');
  const src = lookupChild(op.parent, op.name);
  if (!src) fail('ENOENT');
  const dst = lookupChild(np.parent, np.name);
  const srcDir = src.dentry.node.isDir();
  if (!srcDir && (op.trailingSlash || np.trailingSlash)) fail('ENOTDIR');
  if (flags & RENAME_NOREPLACE && dst) fail('EEXIST');
  if (flags & RENAME_EXCHANGE && !dst) fail('ENOENT');
  if (src.mount !== op.parent.mount || (dst && dst.mount !== np.parent.mount)) fail('EXDEV');
  if (dst && dst.dentry.node === src.dentry.node) return 0;
  if (srcDir && isAncestor(src.dentry, np.parent.dentry)) fail('EINVAL');
  if (dst && flags & RENAME_EXCHANGE && dst.dentry.node.isDir() && isAncestor(dst.dentry, op.parent.dentry)) fail('EINVAL');
  if (dst && !(flags & RENAME_EXCHANGE)) {
    if (dst.dentry.node.isDir() && !srcDir) fail('EISDIR');
    if (!dst.dentry.node.isDir() && srcDir) fail('ENOTDIR');
  }
  if (isMountBusy(src) || (dst && isMountBusy(dst))) fail('EBUSY');
  mayRemove(t, op.parent, src);
  mayModifyDir(t, np.parent);
  if (dst) {
    const ps = np.parent.dentry.node.stat();
    if (!mayDeleteChild(t.creds, ps.mode, ps.uid, dst.dentry.node.stat().uid)) fail('EPERM');
  }
  // Moving a directory to a new parent rewrites its "..": it must be writable.
  if (srcDir && op.parent.dentry !== np.parent.dentry) {
    const st = src.dentry.node.stat();
    requireAccess(t.creds, src.dentry.node, st, W_OK);
  }
  op.parent.dentry.node.rename(op.name, np.parent.dentry.node, np.name, flags);
  if (flags & RENAME_EXCHANGE && dst) {
    k.inotify.renamed(op.parent.dentry.node, op.name, np.parent.dentry.node, np.name, src.dentry.node, null);
    k.inotify.renamed(np.parent.dentry.node, np.name, op.parent.dentry.node, op.name, dst.dentry.node, null);
  } else {
    k.inotify.renamed(op.parent.dentry.node, op.name, np.parent.dentry.node, np.name, src.dentry.node, dst?.dentry.node ?? null);
  }
  if (flags & RENAME_EXCHANGE && dst) {
    moveDentry(src.dentry, op.parent.dentry, op.name, np.parent.dentry, np.name);
    moveDentry(dst.dentry, np.parent.dentry, np.name, op.parent.dentry, op.name);
    op.parent.dentry.cacheChild(op.name, dst.dentry);
    np.parent.dentry.cacheChild(np.name, src.dentry);
  } else {
    dst?.dentry.detach();
    moveDentry(src.dentry, op.parent.dentry, op.name, np.parent.dentry, np.name);
  }
  return 0;
}

/**
 * fs.protected_hardlinks (on by default): only a file's owner, or someone who
 * may read and write a regular file that is neither set-user-ID nor
 * set-group-ID executable, or a holder of CAP_FOWNER, may link to it.
 */
function mayHardlink(t: Task, node: Node, st: Stat): void {
  const c = t.creds;
  if (c.fsuid === st.uid || hasCap(c, CAP_FOWNER)) return;
  const regular = (st.mode & S_IFMT) === S_IFREG;
  if (regular && !execSetidBits(st.mode) && node.permits(c, st, R_OK | W_OK)) return;
  fail('EPERM');
}

/**
 * linkat(fd, "", AT_EMPTY_PATH) gives a name to whatever the fd is, so Linux
 * (6.10 on) lets only the fd's opener with unchanged credentials do it, or a
 * caller with CAP_DAC_READ_SEARCH; anyone else gets ENOENT. Unchanged
 * credentials: the same process, with the credentials the Sentry read before
 * no change since (Linux compares the credential structures; a fork makes new
 * ones). An fd whose opener the Sentry did not record is not checked.
 */
function linkableFd(k: Kernel, t: Task, fd: number): void {
  const opener = k.files.lookup(t, fd).file?.opener;
  if (!opener || (opener.proc === t.proc && opener.creds === t.creds)) return;
  if (!hasCap(t.creds, CAP_DAC_READ_SEARCH)) fail('ENOENT');
}

function linkAt(k: Kernel, t: Task, olddirfd: number, oldAddr: number, newdirfd: number, newAddr: number, flags: number): number {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) fail('EINVAL');
  const oldPath = readPath(t, oldAddr);
  if (oldPath === '' && flags & AT_EMPTY_PATH && olddirfd !== AT_FDCWD) linkableFd(k, t, olddirfd);
  let old: Location | undefined;
  try {
    old = resolvePathAt(k, t, olddirfd, oldPath, (flags & AT_SYMLINK_FOLLOW) !== 0, flags);
  } catch (e) {
    namedOnly(k, t, newdirfd, newAddr);
    throw e;
  }
  if (!old) fail('ENOENT');
  const np = parentAt(k, t, newdirfd, newAddr);
  if (np.name === '' || np.name === '.' || np.name === '..') fail('EEXIST');
  // Linux's order: the new name (a trailing slash names a directory, which
  // link never makes), the mounts, protected_hardlinks, then the directory.
  const existing = lookupChild(np.parent, np.name);
  if (existing) fail('EEXIST');
  if (np.trailingSlash) fail('ENOENT');
  if (old.mount !== np.parent.mount) fail('EXDEV');
  mayHardlink(t, old.dentry.node, old.dentry.node.stat());
  mayModifyDir(t, np.parent);
  if (old.dentry.node.isDir()) fail('EPERM');
  np.parent.dentry.node.link(np.name, old.dentry.node);
  np.parent.dentry.add(np.name, old.dentry.node);
  k.inotify.linked(np.parent.dentry.node, np.name, old.dentry.node);
  return 0;
}

function symlinkAt(k: Kernel, t: Task, targetAddr: number, newdirfd: number, newAddr: number): number {
  const target = readPath(t, targetAddr);
  if (target === '') fail('ENOENT');
  const np = parentAt(k, t, newdirfd, newAddr);
  if (np.name === '' || np.name === '.' || np.name === '..' || np.trailingSlash) fail('EEXIST');
  if (lookupChild(np.parent, np.name)) fail('EEXIST');
  mayModifyDir(t, np.parent);
  const node = np.parent.dentry.node.symlink(np.name, target, t.creds);
  np.parent.dentry.add(np.name, node);
  k.inotify.created(np.parent.dentry.node, np.name, node);
  return 0;
}

function readlinkAt(k: Kernel, t: Task, dirfd: number, pathAddr: number, buf: number, size: number): number {
  if (size <= 0) fail('EINVAL');
  let loc: Location | undefined;
  const path = readPath(t, pathAddr);
  assertValid(k, t);
  if (path === '') {
    loc = dirfd === AT_FDCWD ? undefined : k.files.lookup(t, dirfd).file?.loc;
    if (!loc) fail('ENOENT');
  } else {
    loc = resolveAt(k, t, dirfd, pathAddr, false);
  }
  if (!loc || !loc.dentry.node.isSymlink()) fail('EINVAL');
  const target = Buffer.from(loc.dentry.node.readlink(), 'latin1');
  const n = Math.min(target.length, size);
  writeBytes(t, buf, target, n);
  return n;
}

export const linkHandlers: Record<string, Handler> = {
  unlink: (k, t, a) => unlinkAt(k, t, AT_FDCWD, a.long(0), 0),
  unlinkat: (k, t, a) => unlinkAt(k, t, a.int(0), a.long(1), a.int(2)),
  rename: (k, t, a) => renameAt(k, t, AT_FDCWD, a.long(0), AT_FDCWD, a.long(1), 0),
  renameat: (k, t, a) => renameAt(k, t, a.int(0), a.long(1), a.int(2), a.long(3), 0),
  renameat2: (k, t, a) => renameAt(k, t, a.int(0), a.long(1), a.int(2), a.long(3), a.u32(4)),
  link: (k, t, a) => linkAt(k, t, AT_FDCWD, a.long(0), AT_FDCWD, a.long(1), 0),
  linkat: (k, t, a) => linkAt(k, t, a.int(0), a.long(1), a.int(2), a.long(3), a.int(4)),
  symlink: (k, t, a) => symlinkAt(k, t, a.long(0), AT_FDCWD, a.long(1)),
  symlinkat: (k, t, a) => symlinkAt(k, t, a.long(0), a.int(1), a.long(2)),
  readlink: (k, t, a) => readlinkAt(k, t, AT_FDCWD, a.long(0), a.long(1), a.int(2)),
  readlinkat: (k, t, a) => readlinkAt(k, t, a.int(0), a.long(1), a.long(2), a.int(3)),
};
