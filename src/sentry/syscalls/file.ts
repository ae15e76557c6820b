// open, openat, openat2, creat, truncate, mknod, mknodat; lseek's SEEK_END, SEEK_DATA, SEEK_HOLE.
import {
  O_ACCMODE,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_TMPFILE,
  O_TRUNC,
  O_WRONLY,
  R_OK,
  RESOLVE_BENEATH,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
  RESOLVE_NO_XDEV,
  RESOLVE_CACHED,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  SEEK_DATA,
  SEEK_END,
  SEEK_HOLE,
  SEEK_SET,
  SYMLOOP_MAX,
  W_OK,
  X_OK,
  CAP_MKNOD,
  SIGNAL_NAMES,
  makedev,
  IN_MODIFY,
  IN_OPEN,
} from '../../abi/linux.js';
import fs from 'node:fs';
import { native } from '../../platform/native.js';
import { CONTINUE, type SyscallArgs } from '../../platform/notif.js';
import { hasCap, requireAccess } from '../creds.js';
import { ERRNO } from '../../abi/errno.js';
import { SysErr, check, fail } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { readBytes, readPath } from '../memory.js';
import type { Task } from '../task.js';
import { Dentry, type Location } from '../vfs/node.js';
import { openFifo } from '../vfs/fifo.js';
import { takeTerminalOnReturn } from '../ctty.js';
import { followLink, lookupChild, resolve, resolveParent } from '../vfs/resolve.js';
import type { Handler } from './dispatch.js';
import { assertValid, installFd, mayModifyDir, mustBeWritable, noteOpen, notExecuting, parentAt, resolveAt, startDir, truncationKills, umaskMode } from './common.js';

/**
 * A file the Sentry grows for the guest stays within the guest's
 * RLIMIT_FSIZE (the host enforces it on the guest's own writes): past it,
 * SIGXFSZ and EFBIG, as Linux's inode_newsize_ok.
 */
function withinFsizeLimit(t: Task, size: number): void {
  let limits = '';
  try {
    limits = fs.readFileSync(`/proc/${t.tid}/limits`, 'latin1');
  } catch {
    return;
  }
  const soft = /^Max file size\s+(\S+)/m.exec(limits)?.[1];
  if (soft === undefined || soft === 'unlimited' || size <= Number(soft)) return;
  native.pidfdSendSignal(t.proc.pidfd(), SIGNAL_NAMES.SIGXFSZ!);
  fail('EFBIG');
}

/** Opens an already resolved location for the guest and installs the fd. */
export function openLocation(k: Kernel, t: Task, a: SyscallArgs, loc: Location, flags: number, created = false): number {
  noteOpen(k, flags, created);
  const node = loc.dentry.node;
  const cloexec = (flags & O_CLOEXEC) !== 0;
  if (flags & O_PATH) {
    if (flags & O_DIRECTORY && !node.isDir()) fail('ENOTDIR');
    return installFd(k, a, k.files.placeholder({ loc, flags }), null, cloexec);
  }
  if (node.isSymlink()) fail('ELOOP');
  if (flags & O_DIRECTORY && !node.isDir()) fail('ENOTDIR');
  const acc = flags & O_ACCMODE;
  const st = node.stat();
  if (node.isDir()) {
    // O_TRUNC asks for write access too.
    if (acc !== O_RDONLY || flags & (O_CREAT | O_TRUNC)) fail('EISDIR');
    // No file system's directories do direct I/O.
    if (flags & O_DIRECT) fail('EINVAL');
    if (!node.permits(t.creds, st, R_OK)) fail('EACCES');
    const file = { loc, flags };
    const fd = node.openDirectory(flags);
    const installed = fd >= 0 ? fd : k.files.placeholder(file);
    // Queued before the fd is installed: ADDFD also answers the call.
    k.inotify.event(loc.dentry, IN_OPEN);
    k.inotify.opening(loc.dentry, installed);
    return installFd(k, a, installed, fd >= 0 ? { ...file, direct: true } : null, cloexec);
  }
  if (!created) {
    let want = acc === O_RDONLY ? R_OK : acc === O_WRONLY ? W_OK : R_OK | W_OK;
    if (flags & O_TRUNC) want |= W_OK;
    if (!node.permits(t.creds, st, want)) fail('EACCES');
  }
  const type = st.mode & S_IFMT;
  if (type === S_IFREG) {
    if (acc !== O_RDONLY || flags & O_TRUNC) {
      mustBeWritable(loc);
      notExecuting(k, loc);
    }
  } else if ((type === S_IFCHR || type === S_IFBLK) && loc.mount.opts.nodev) {
    fail('EACCES');
  }
  const fifo = type === S_IFIFO ? node.fifo() : -1;
  if (fifo >= 0) return openFifo(k, a.id, a.tid, fifo, flags & ~(O_CREAT | O_EXCL | O_TRUNC), { loc, flags, direct: true });
  const truncates = (flags & O_TRUNC) !== 0 && type === S_IFREG && !created;
  const kills = truncates ? truncationKills(t, st) : {};
  if (kills.mode !== undefined) node.setattr(kills);
  const opened = node.open(flags & ~(O_CREAT | O_EXCL));
  k.inotify.event(loc.dentry, IN_OPEN);
  if (truncates) k.inotify.event(loc.dentry, IN_MODIFY);
  if (!opened.foreign) k.inotify.opening(loc.dentry, opened.fd);
  if (opened.ctty) takeTerminalOnReturn(t);
  const file = { loc, flags, direct: true, opener: { proc: t.proc, creds: t.creds } };
  return installFd(k, a, opened.fd, opened.foreign ? null : file, cloexec);
}

/** The only flags an O_PATH open keeps (open ignores the others, openat2 refuses them). */
const O_PATH_FLAGS = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

/**
 * open(dir, O_TMPFILE): a regular file without a name in directory `dir`'s
 * file system (tmpfs and the overlay have them; EOPNOTSUPP elsewhere), which
 * linkat can name later unless O_EXCL was given. /proc/self/fd shows it as
 * Linux does, "DIR/#INO (deleted)".
 */
function openTmpfile(k: Kernel, t: Task, a: SyscallArgs, dir: Location, flags: number, mode: number): number {
  const node = dir.dentry.node;
  if (!node.isDir()) fail('ENOTDIR');
  mustBeWritable(dir);
  if (!node.permits(t.creds, node.stat(), W_OK | X_OK)) fail('EACCES');
  const r = node.tmpfile(umaskMode(t, mode, node), t.creds, flags & ~(O_TMPFILE | O_CREAT));
  const d = new Dentry(`#${r.node.stat().ino}`, dir.dentry, r.node);
  d.dead = true;
  const file = { loc: { mount: dir.mount, dentry: d }, flags, direct: true, opener: { proc: t.proc, creds: t.creds } };
  return installFd(k, a, r.fd, file, (flags & O_CLOEXEC) !== 0);
}

function doOpen(k: Kernel, t: Task, a: SyscallArgs, dirfd: number, pathAddr: number, flags: number, mode: number, resolveFlags = 0): number {
  if (flags & O_PATH) flags &= O_PATH_FLAGS;
  // O_TMPFILE is O_DIRECTORY with a bit of its own, for writing and never with O_CREAT.
  if (flags & O_TMPFILE & ~O_DIRECTORY && ((flags & (O_TMPFILE | O_CREAT)) !== O_TMPFILE || (flags & O_ACCMODE) === O_RDONLY)) fail('EINVAL');
  const path = readPath(t, pathAddr);
  assertValid(k, t);
  const lo = t.proc.loaderOpen;
  if (lo) {
    // The first open after an exec that ran the ELF interpreter by fd
    // (exec.ts) is the interpreter's of its program: given the program's
    // name, it gets the file the exec checked, whatever the name reaches now.
    t.proc.loaderOpen = undefined;
    if (path === lo.path && (flags & (O_ACCMODE | O_CREAT | O_TRUNC | O_PATH | O_DIRECTORY)) === O_RDONLY) return openLocation(k, t, a, lo.loc, flags);
  }
  noteOpen(k, flags, (flags & O_CREAT) !== 0 || (flags & O_TMPFILE) === O_TMPFILE);
  const from = startDir(k, t, dirfd, path);
  const ctx = t.resolveCtx();
  const noSymlinks = (resolveFlags & RESOLVE_NO_SYMLINKS) !== 0;
  if (resolveFlags) {
    if (resolveFlags & RESOLVE_IN_ROOT) ctx.root = from;
    ctx.scope = {
      beneath: resolveFlags & RESOLVE_BENEATH ? from : undefined,
      scoped: (resolveFlags & (RESOLVE_BENEATH | RESOLVE_IN_ROOT)) !== 0,
      noXdev: resolveFlags & RESOLVE_NO_XDEV ? from.mount : undefined,
      noSymlinks,
      noMagic: (resolveFlags & RESOLVE_NO_MAGICLINKS) !== 0,
    };
  }
  if (!(flags & O_CREAT)) {
    const follow = !(flags & O_NOFOLLOW) && !noSymlinks;
    const loc = resolve(ctx, from, path, follow);
    if (loc.dentry.node.isSymlink() && (!(flags & O_PATH) || noSymlinks)) fail('ELOOP');
    if ((flags & O_TMPFILE) === O_TMPFILE) return openTmpfile(k, t, a, loc, flags, mode);
    return openLocation(k, t, a, loc, flags);
  }
  let { parent, name, trailingSlash } = resolveParent(ctx, from, path);
  if (trailingSlash || name === '' || name === '.' || name === '..') fail('EISDIR');
  for (let links = 0; ; links++) {
    const existing = lookupChild(parent, name);
    if (existing) {
      if (flags & O_EXCL) fail('EEXIST');
      if (!existing.dentry.node.isSymlink()) return openLocation(k, t, a, existing, flags);
      if (flags & O_NOFOLLOW || noSymlinks) fail('ELOOP');
      if (links >= SYMLOOP_MAX) fail('ELOOP');
      let resolved: Location | null = null;
      try {
        resolved = followLink(ctx, parent, existing);
      } catch (e) {
        if (!(e instanceof SysErr) || e.errno !== ERRNO.ENOENT) throw e;
      }
      if (resolved) return openLocation(k, t, a, resolved, flags);
      // A dangling symlink: O_CREAT creates its target.
      const target = existing.dentry.node.readlink();
      const p = resolveParent(ctx, target.startsWith('/') ? ctx.root : parent, target);
      if (p.trailingSlash || p.name === '' || p.name === '.' || p.name === '..') fail('EISDIR');
      parent = p.parent;
      name = p.name;
      continue;
    }
    mayModifyDir(t, parent);
    const r = parent.dentry.node.create(name, umaskMode(t, mode, parent.dentry.node), t.creds, flags & ~(O_CREAT | O_EXCL));
    const d = parent.dentry.add(name, r.node);
    k.inotify.created(parent.dentry.node, name, r.node);
    k.inotify.event(d, IN_OPEN);
    k.inotify.opening(d, r.fd);
    const file = { loc: { mount: parent.mount, dentry: d }, flags, direct: true, opener: { proc: t.proc, creds: t.creds } };
    return installFd(k, a, r.fd, file, (flags & O_CLOEXEC) !== 0);
  }
}

const OPEN_HOW_SIZE = 24;
const KNOWN_RESOLVE = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_CACHED;

export const fileHandlers: Record<string, Handler> = {
  open: (k, t, a) => doOpen(k, t, a, -100, a.long(0), a.int(1), a.u32(2)),
  openat: (k, t, a) => doOpen(k, t, a, a.int(0), a.long(1), a.int(2), a.u32(3)),
  creat: (k, t, a) => doOpen(k, t, a, -100, a.long(0), O_CREAT | O_WRONLY | O_TRUNC, a.u32(1)),
  openat2: (k, t, a) => {
    const size = a.long(3);
    if (size < OPEN_HOW_SIZE) fail('EINVAL');
    const how = readBytes(t, a.long(2), Math.min(size, 4096));
    if (how.subarray(OPEN_HOW_SIZE).some((b) => b !== 0)) fail('E2BIG');
    const flags = how.readUInt32LE(0);
    if (how.readUInt32LE(4) !== 0) fail('EINVAL');
    const mode = Number(how.readBigUInt64LE(8));
    const res = Number(how.readBigUInt64LE(16));
    if (res & ~KNOWN_RESOLVE) fail('EINVAL');
    if (mode && !(flags & O_CREAT) && (flags & O_TMPFILE) !== O_TMPFILE) fail('EINVAL');
    if (mode & ~0o7777) fail('EINVAL');
    if (flags & O_PATH && flags & ~O_PATH_FLAGS) fail('EINVAL');
    if ((res & RESOLVE_BENEATH) && (res & RESOLVE_IN_ROOT)) fail('EINVAL');
    if (res & RESOLVE_CACHED) fail('EAGAIN');
    return doOpen(k, t, a, a.int(0), a.long(1), flags, mode, res);
  },
  truncate: (k, t, a) => {
    const len = a.long(1);
    const loc = resolveAt(k, t, -100, a.long(0), true)!;
    if (len < 0) fail('EINVAL');
    const node = loc.dentry.node;
    if (node.isDir()) fail('EISDIR');
    if (!node.isRegular()) fail('EINVAL');
    const st = node.stat();
    requireAccess(t.creds, node, st, W_OK);
    mustBeWritable(loc);
    notExecuting(k, loc);
    if (len > st.size) withinFsizeLimit(t, len);
    node.setattr({ size: len, ...truncationKills(t, st) });
    k.inotify.event(loc.dentry, IN_MODIFY);
    return 0;
  },
  mknod: (k, t, a) => mknodAt(k, t, -100, a.long(0), a.u32(1), a.u32(2)),
  mknodat: (k, t, a) => mknodAt(k, t, a.int(0), a.long(1), a.u32(2), a.u32(3)),
  lseek: (k, t, a) => seekFromEnd(k, t, a.int(0), a.slong(1), a.u32(2)),
};

/**
 * lseek with a whence other than SEEK_SET and SEEK_CUR. The guest's fd of a
 * generated file is a snapshot (a memfd) and that of a directory a
 * placeholder: their own answers would be the snapshot's size and tmpfs's
 * EINVAL, so the node says what Linux's file of its kind does and the
 * Sentry moves the guest's offset itself. Anything else runs on the host.
 */
function seekFromEnd(k: Kernel, t: Task, fd: number, off: number, whence: number): number {
  const id = k.files.identify(t, fd);
  try {
    if (!id.file) return CONTINUE;
    if (id.file.flags & O_PATH) fail('EBADF');
    const size = id.file.loc.dentry.node.seekEnd();
    if (size === 'host') return CONTINUE;
    if (size === 'seq' || whence > SEEK_HOLE) fail('EINVAL');
    let pos = off + size;
    if (whence !== SEEK_END) {
      // generic_file_llseek compares unsigned: a negative offset is past the end too.
      if (off < 0 || off >= size) fail('ENXIO');
      pos = whence === SEEK_DATA ? off : size;
    }
    if (pos < 0) fail('EINVAL');
    return check(native.lseek(id.fd, pos, SEEK_SET));
  } finally {
    native.close(id.fd);
  }
}

function mknodAt(k: Kernel, t: Task, dirfd: number, pathAddr: number, mode: number, dev: number): number {
  const type = mode & S_IFMT;
  if (type === S_IFDIR) fail('EPERM');
  if (![0, S_IFREG, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK].includes(type)) fail('EINVAL');
  // The sandbox is a user namespace: as there, only the overlay whiteout
  // (a character device 0:0) may be made; real devices need CAP_MKNOD on the host.
  const whiteout = type === S_IFCHR && dev === 0;
  if ((type === S_IFCHR || type === S_IFBLK) && !(whiteout && hasCap(t.creds, CAP_MKNOD))) fail('EPERM');
  const { parent, name, trailingSlash } = parentAt(k, t, dirfd, pathAddr);
  if (name === '' || name === '.' || name === '..' || trailingSlash) fail('EEXIST');
  if (lookupChild(parent, name)) fail('EEXIST');
  mayModifyDir(t, parent);
  const full = (type || S_IFREG) | umaskMode(t, mode, parent.dentry.node);
  // dev_t from mknod is the old 32-bit encoding (major 12 bits, minor 20 bits).
  const rdev = makedev((dev >>> 8) & 0xfff, (dev & 0xff) | ((dev >>> 12) & 0xfff00));
  const node = parent.dentry.node.mknod(name, full, rdev, t.creds);
  parent.dentry.add(name, node);
  k.inotify.created(parent.dentry.node, name, node);
  return 0;
}
