// Helpers shared by the syscall families.
import { AT_EMPTY_PATH, AT_FDCWD, CAP_FSETID, O_ACCMODE, O_CLOEXEC, O_PATH, O_RDONLY, O_TRUNC, SECCOMP_ADDFD_FLAG_SEND, W_OK, X_OK, execSetidBits } from '../../abi/linux.js';
import type { Stat } from '../../abi/structs.js';
import { native } from '../../platform/native.js';
import { REPLIED, type SyscallArgs } from '../../platform/notif.js';
import { hasCap, requireAccess } from '../creds.js';
import { fail } from '../errors.js';
import type { Identified, OpenFile } from '../files.js';
import type { Kernel } from '../kernel.js';
import { readPath } from '../memory.js';
import type { Task } from '../task.js';
import type { Location, Node, SetAttr, Via } from '../vfs/node.js';
import { type ParentAndName, resolve, resolveParent } from '../vfs/resolve.js';

/**
 * The directory a relative path starts from: the cwd, or the directory behind
 * `dirfd`. Every path call's walk starts here, so this is where an access
 * observer learns the paths a call names.
 */
export function startDir(k: Kernel, t: Task, dirfd: number, path: string): Location {
  let from = t.fs.cwd;
  if (!path.startsWith('/') && dirfd !== AT_FDCWD) {
    const { file } = k.files.lookup(t, dirfd);
    if (!file) fail('ENOTDIR');
    if (!file.loc.dentry.node.isDir()) fail('ENOTDIR');
    from = file.loc;
  }
  k.access?.named(t, from, path);
  return from;
}

/**
 * For an access observer: a path the call names but never reaches, as it
 * failed before (link's new name when the old one is missing), so the
 * report shows both names as strace would. Nothing is resolved.
 */
export function namedOnly(k: Kernel, t: Task, dirfd: number, pathAddr: number): void {
  if (!k.access) return;
  try {
    startDir(k, t, dirfd, readPath(t, pathAddr));
  } catch {
    // an unreadable path or a bad dirfd: nothing to report
  }
}

/** An open's FileOp for an access observer: a look (O_PATH), a new file, a write, or a read. */
export function noteOpen(k: Kernel, flags: number, created: boolean): void {
  k.access?.setOp(flags & O_PATH ? 'stat' : created ? 'create' : (flags & O_ACCMODE) !== O_RDONLY || flags & O_TRUNC ? 'write' : 'read');
}

/** The location of the object behind a guest fd (for AT_EMPTY_PATH and f* calls on Sentry objects). */
export function fdLocation(k: Kernel, t: Task, fd: number): Location | undefined {
  return k.files.lookup(t, fd).file?.loc;
}

/** The object behind a guest fd, for a call made through the fd. */
export interface FdTarget {
  /** the Sentry's copy of the fd (closed by throughFd) and its attributes */
  id: Identified;
  file: OpenFile | undefined;
  /** the copy, when the fd is the node's own host object */
  via: Via | undefined;
}

/** Runs `f` on the object behind guest fd `fd`, then closes the Sentry's copy of the fd. */
export function throughFd<T>(k: Kernel, t: Task, fd: number, f: (x: FdTarget) => T): T {
  const id = k.files.identify(t, fd);
  try {
    return f({ id, file: id.file, via: id.file?.direct ? { fd: id.fd, sx: id.sx } : undefined });
  } finally {
    native.close(id.fd);
  }
}

/** EBADF for an O_PATH fd, which Linux refuses for every call but a few (fstat, fchdir, *at relative to it). */
export function notPath(file: OpenFile | undefined): void {
  if (file && file.flags & O_PATH) fail('EBADF');
}

/** (dirfd, path, flags) names the fd itself: an empty path with AT_EMPTY_PATH. */
export function namesFd(dirfd: number, path: string, flags: number): boolean {
  return path === '' && (flags & AT_EMPTY_PATH) !== 0 && dirfd !== AT_FDCWD;
}

/**
 * Resolves (dirfd, path). With AT_EMPTY_PATH and an empty path the result is
 * the fd's own object, or undefined when the fd is not one the Sentry made
 * (a pipe, a socket, an inherited host fd): callers then act on the fd itself.
 */
export function resolveAt(k: Kernel, t: Task, dirfd: number, pathAddr: number, follow: boolean, flags = 0): Location | undefined {
  return resolvePathAt(k, t, dirfd, readPath(t, pathAddr), follow, flags);
}

/** resolveAt for a path already copied from the guest. */
export function resolvePathAt(k: Kernel, t: Task, dirfd: number, path: string, follow: boolean, flags = 0): Location | undefined {
  if (path === '') {
    if (!(flags & AT_EMPTY_PATH)) fail('ENOENT');
    if (dirfd === AT_FDCWD) return t.fs.cwd;
    return fdLocation(k, t, dirfd);
  }
  assertValid(k, t);
  return resolve(t.resolveCtx(), startDir(k, t, dirfd, path), path, follow);
}

/** Parent directory and last name of (dirfd, path), for calls that create or remove a name. */
export function parentAt(k: Kernel, t: Task, dirfd: number, pathAddr: number): ParentAndName {
  const path = readPath(t, pathAddr);
  // Linux refuses an empty name before it looks at dirfd.
  if (path === '') fail('ENOENT');
  assertValid(k, t);
  const r = resolveParent(t.resolveCtx(), startDir(k, t, dirfd, path), path);
  k.access?.lastName(r.parent, r.name);
  return r;
}

/**
 * Guards against pid reuse: the caller may have died, and its tid been
 * reused, between the notification and our reading of its memory. Checked
 * after copying arguments and before acting on them.
 */
export function assertValid(k: Kernel, t: Task): void {
  void t;
  if (!k.channel.valid(k.channel.args.id)) fail('ESRCH');
}

/** EROFS for a read-only mount. */
export function mustBeWritable(loc: Location): void {
  if (loc.mount.opts.readonly) fail('EROFS');
}

/** ETXTBSY when a guest process is running the file (Linux refuses to write a running executable). */
export function notExecuting(k: Kernel, loc: Location): void {
  const node = loc.dentry.node;
  for (const t of k.tasks.values()) {
    if (!t.proc.exited && t.proc.exe?.dentry.node === node) fail('ETXTBSY');
  }
}

/**
 * What a truncation by path (truncate, O_TRUNC) also changes, as Linux's
 * do_truncate: for a caller without CAP_FSETID, the set-id bits an exec
 * honours go. The Sentry and the Gofer truncate as the host's root, whom the
 * host lets keep them (file capabilities it removes itself).
 */
export function truncationKills(t: Task, st: Stat): SetAttr {
  const bits = execSetidBits(st.mode);
  return bits && !hasCap(t.creds, CAP_FSETID) ? { mode: st.mode & 0o7777 & ~bits } : {};
}

/** May the task add or remove names in directory `dir`? */
export function mayModifyDir(t: Task, dir: Location): void {
  // A removed directory takes no new names (Linux's IS_DEADDIR).
  if (dir.dentry.dead) fail('ENOENT');
  mustBeWritable(dir);
  const st = dir.dentry.node.stat();
  requireAccess(t.creds, dir.dentry.node, st, W_OK | X_OK);
}

/**
 * Installs `hostFd` in the guest as the result of the current syscall
 * (SECCOMP_IOCTL_NOTIF_ADDFD with SEND) and closes the Sentry's copy.
 */
export function installFd(k: Kernel, a: SyscallArgs, hostFd: number, file: OpenFile | null, cloexec: boolean): number {
  if (file) {
    try {
      k.files.register(hostFd, file);
    } catch (e) {
      native.close(hostFd);
      throw e;
    }
  }
  const r = native.notifAddFd(k.channel.fd, a.id, hostFd, cloexec ? O_CLOEXEC : 0, SECCOMP_ADDFD_FLAG_SEND, 0, a.tid);
  native.close(hostFd);
  return r < 0 ? r : REPLIED;
}

/** Applies the task's umask to a mode to create with in `dir` (unless its default ACL replaces the umask). */
export function umaskMode(t: Task, mode: number, dir: Node): number {
  return mode & (dir.appliesUmask() ? ~t.fs.umask : ~0) & 0o7777;
}
