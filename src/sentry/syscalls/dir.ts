// mkdir, mkdirat, rmdir, getdents, getdents64, chdir, fchdir, getcwd, chroot.
import { AT_FDCWD, CAP_SYS_CHROOT, DT_DIR, IN_ACCESS, PATH_MAX, SEEK_CUR, SEEK_SET, S_ISVTX, X_OK } from '../../abi/linux.js';
import { direntSize, dirent64Size, writeDirent, writeDirent64 } from '../../abi/structs.js';
import { native } from '../../platform/native.js';
import { hasCap, mayDeleteChild, requireAccess } from '../creds.js';
import { check, fail } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { writeBytes } from '../memory.js';
import type { Task } from '../task.js';
import type { DirEntry, Location, Via } from '../vfs/node.js';
import { lookupChild, parentOf, pathOf } from '../vfs/resolve.js';
import type { Handler } from './dispatch.js';
import { mayModifyDir, notPath, parentAt, resolveAt, throughFd, umaskMode } from './common.js';

function mkdirAt(k: Kernel, t: Task, dirfd: number, pathAddr: number, mode: number): number {
  const { parent, name } = parentAt(k, t, dirfd, pathAddr);
  if (name === '' || name === '.' || name === '..') fail('EEXIST');
  if (lookupChild(parent, name)) fail('EEXIST');
  mayModifyDir(t, parent);
  const node = parent.dentry.node.mkdir(name, umaskMode(t, mode & (0o777 | S_ISVTX), parent.dentry.node), t.creds);
  parent.dentry.add(name, node);
  k.inotify.created(parent.dentry.node, name, node);
  return 0;
}

/** Checks that `child` (named `name` in `parent`) may be removed by `t`. */
export function mayRemove(t: Task, parent: Location, child: Location): void {
  mayModifyDir(t, parent);
  const ps = parent.dentry.node.stat();
  const cs = child.dentry.node.stat();
  if (!mayDeleteChild(t.creds, ps.mode, ps.uid, cs.uid)) fail('EPERM');
}

/** A mount point or a mount's root cannot be removed or renamed. */
export function isMountBusy(loc: Location): boolean {
  return loc.dentry.mounted !== undefined || loc.dentry === loc.mount.root;
}

export function rmdirAt(k: Kernel, t: Task, dirfd: number, pathAddr: number): number {
  const { parent, name } = parentAt(k, t, dirfd, pathAddr);
  if (name === '.') fail('EINVAL');
  if (name === '..') fail('ENOTEMPTY');
  if (name === '') fail('EBUSY');
  const child = lookupChild(parent, name);
  if (!child) fail('ENOENT');
  if (!child.dentry.node.isDir()) fail('ENOTDIR');
  if (isMountBusy(child)) fail('EBUSY');
  mayRemove(t, parent, child);
  parent.dentry.node.rmdir(name, child.dentry.node);
  child.dentry.detach();
  k.inotify.removed(parent.dentry.node, name, child.dentry.node);
  return 0;
}

/** The entries of a directory as getdents reports them, "." and ".." first. */
function listing(t: Task, loc: Location, via: Via | undefined): DirEntry[] {
  const self = loc.dentry.node.stat(via);
  const up = parentOf(t.resolveCtx(), loc);
  return [
    { name: '.', ino: self.ino, type: DT_DIR },
    { name: '..', ino: up.dentry.node.stat().ino, type: DT_DIR },
    ...loc.dentry.node.readdir(via),
  ];
}

function getdents(k: Kernel, t: Task, fd: number, addr: number, count: number, legacy: boolean): number {
  return throughFd(k, t, fd, ({ id, file, via }) => {
    notPath(file);
    // The count is an int to Linux's readdir.
    if (count > 0x7fffffff) fail('EINVAL');
    if (!file) fail('ENOTDIR');
    if (!file.loc.dentry.node.isDir()) fail('ENOTDIR');
    // A removed directory lists nothing, not even "." (Linux's IS_DEADDIR).
    if (file.loc.dentry.dead) fail('ENOENT');
    // The listing position is the placeholder's own file offset, so native
    // lseek (rewinddir, seekdir) and sharing across dup/fork just work.
    const pos = check(native.lseek(id.fd, 0, SEEK_CUR));
    k.inotify.event(file.loc.dentry, IN_ACCESS);
    if (pos === 0 || !file.listing) {
      // A listing begins: what an access observer sees as the directory's `list`.
      k.access?.namedLocation(t, file.loc);
      k.files.keepListing(file, listing(t, file.loc, via));
    }
    const entries = file.listing!;
    if (pos >= entries.length) {
      // Read to its end: the snapshot goes (a rewind or seekdir lists again).
      k.files.dropListing(file);
      return 0;
    }
    const buf = Buffer.alloc(Math.min(count, 1 << 20));
    /** where each entry written ends */
    const ends: number[] = [];
    let off = 0;
    for (let i = pos; i < entries.length; i++) {
      const e = entries[i]!;
      const len = Buffer.byteLength(e.name, 'latin1');
      const size = legacy ? direntSize(len) : dirent64Size(len);
      if (off + size > buf.length) break;
      off += legacy ? writeDirent(buf, off, e.ino, i + 1, e.type, e.name) : writeDirent64(buf, off, e.ino, i + 1, e.type, e.name);
      ends.push(off);
    }
    if (off === 0) fail('EINVAL');
    // As Linux's filldir: the entries copied before a fault are the result; a fault on the first is EFAULT.
    const copied = native.memWrite(t.tid, addr, buf, 0, off);
    let n = ends.length;
    while (n > 0 && ends[n - 1]! > copied) n--;
    if (n === 0) fail('EFAULT');
    check(native.lseek(id.fd, pos + n, SEEK_SET));
    return ends[n - 1]!;
  });
}

function setCwd(t: Task, loc: Location): number {
  if (!loc.dentry.node.isDir()) fail('ENOTDIR');
  const st = loc.dentry.node.stat();
  requireAccess(t.creds, loc.dentry.node, st, X_OK);
  t.fs.cwd = loc;
  return 0;
}

export const dirHandlers: Record<string, Handler> = {
  mkdir: (k, t, a) => mkdirAt(k, t, AT_FDCWD, a.long(0), a.u32(1)),
  mkdirat: (k, t, a) => mkdirAt(k, t, a.int(0), a.long(1), a.u32(2)),
  rmdir: (k, t, a) => rmdirAt(k, t, AT_FDCWD, a.long(0)),
  getdents64: (k, t, a) => getdents(k, t, a.int(0), a.long(1), a.u32(2), false),
  getdents: (k, t, a) => getdents(k, t, a.int(0), a.long(1), a.u32(2), true),
  chdir: (k, t, a) => setCwd(t, resolveAt(k, t, AT_FDCWD, a.long(0), true)!),
  fchdir: (k, t, a) => {
    const { file } = k.files.lookup(t, a.int(0));
    if (!file) fail('ENOTDIR');
    return setCwd(t, file.loc);
  },
  getcwd: (k, t, a) => {
    if (t.fs.cwd.dentry.dead) fail('ENOENT');
    // A cwd outside the task's root (left there by chroot) is shown from the
    // mount namespace's root, marked as Linux's d_path marks it.
    const p = pathOf(t.fs.root, t.fs.cwd) ?? `(unreachable)${pathOf(k.mounts.root, t.fs.cwd) ?? ''}`;
    const b = Buffer.from(`${p}\0`, 'latin1');
    // Linux builds the path in one page.
    if (b.length > PATH_MAX) fail('ENAMETOOLONG');
    if (b.length > a.long(1)) fail('ERANGE');
    writeBytes(t, a.long(0), b);
    return b.length;
  },
  chroot: (k, t, a) => {
    const loc = resolveAt(k, t, AT_FDCWD, a.long(0), true)!;
    if (!loc.dentry.node.isDir()) fail('ENOTDIR');
    const st = loc.dentry.node.stat();
    requireAccess(t.creds, loc.dentry.node, st, X_OK);
    if (!hasCap(t.creds, CAP_SYS_CHROOT)) fail('EPERM');
    t.fs.root = loc;
    return 0;
  },
};
