// Where the contents of in-memory files live, and what in-memory file
// systems may cost the Sentry.
//
// Each in-memory file system (a tmpfs mount, the overlay's upper layer) keeps
// its regular files in a host tmpfs of its own that is mounted nowhere
// (fsopen + fsmount, see native tmpfsMount): the Sentry holds one fd for the
// whole file system and opens a file by its storage name when a guest opens
// it. The host tmpfs enforces the size limit: guest writes, fallocate,
// ftruncate and mmap run natively on those fds and get ENOSPC (SIGBUS for a
// mapping) from the kernel, exactly as on a tmpfs mounted with size=.
//
// Directories, names, symlinks, device nodes, whiteouts and xattrs live in the
// Sentry's heap. Each in-memory file system counts them (nr_inodes), and all
// of them together are charged to one budget per sandbox, so that no guest can
// grow the Sentry's memory without a bound: past it, creating anything is
// ENOSPC, as when a tmpfs runs out of inodes.
import os from 'node:os';
import { AT_FDCWD, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW, O_CLOEXEC, O_CREAT, O_EXCL, O_TMPFILE, O_TRUNC, RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS } from '../../abi/linux.js';

/**
 * The storage directory holds no symlinks; resolution refuses them anyway
 * (RESOLVE flags, not O_NOFOLLOW, which the guest would see in F_GETFL).
 */
const NO_SYMLINKS = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH;
import { native } from '../../platform/native.js';
import { check, fail, ownFd } from '../errors.js';
import { SANDBOX_NODES } from '../limits.js';

/** Bytes of symlink targets and xattrs (names and values) they may hold together. */
export const SANDBOX_META_BYTES = 64 << 20;
/** xattr names and values of one node together: room for one value of the largest size (XATTR_SIZE_MAX) and more. */
export const XATTR_NODE_MAX = 128 << 10;
/** A tmpfs mounted without size= gets half of the memory, as on Linux. */
export const DEFAULT_TMPFS_SIZE = Math.floor(os.totalmem() / 2);

/** What the in-memory file systems of this sandbox hold together (one sandbox per Sentry process). */
export const budget = { nodes: 0, metaBytes: 0 };

/**
 * Opens inode `ino` of the host file system `dev` through a reference some
 * guest process holds (an fd, a mapping), for the rare reopen of a file whose
 * last link is gone (/proc/self/fd/N of a deleted file). Set by the kernel.
 */
export type HeldInodeOpener = (devMajor: number, devMinor: number, ino: number, flags: number) => number;
let heldOpener: HeldInodeOpener = () => -2; /* ENOENT */

export function setHeldInodeOpener(f: HeldInodeOpener): void {
  heldOpener = f;
}

export function openHeldInode(devMajor: number, devMinor: number, ino: number, flags: number): number {
  return heldOpener(devMajor, devMinor, ino, flags);
}

/** The host tmpfs behind one in-memory file system, mounted on first use. */
export class Storage {
  private fd = -1;
  private seq = 0;

  constructor(
    /** bytes (size=) */
    readonly size: number,
    /** host inodes (nr_inodes=); the root directory takes one */
    readonly inodes: number,
    /** the mount is noexec: the host refuses PROT_EXEC mappings of the guest's fds too (EPERM, as Linux) */
    readonly noexec = false,
  ) {}

  private dir(): number {
    if (this.fd < 0) this.fd = ownFd(native.tmpfsMount(this.size, this.inodes + 1, this.noexec));
    return this.fd;
  }

  /**
   * A new, empty file: its storage name and an fd opened with open(2) `flags`,
   * which the caller owns. `setid`: the set-id bits its host mode mirrors (MemFile).
   */
  create(flags: number, setid: number): { name: string; fd: number } {
    const name = (this.seq++).toString(36);
    const fd = ownFd(native.openat2(this.dir(), name, (flags & ~O_TRUNC) | O_CREAT | O_EXCL | O_CLOEXEC, 0o777, NO_SYMLINKS));
    // Access control is the Sentry's (the guest only ever gets fds it hands
    // out); on the host the file is everyone's, so the guest's own host
    // credentials can execveat it.
    native.fchmod(fd, 0o777 | setid);
    return { name, fd };
  }

  /**
   * A new file without a name (O_TMPFILE, linkable unless `flags` has
   * O_EXCL): an fd opened with open(2) `flags`, which the caller owns (`setid` as for create). The
   * host frees it with the last fd or mapping, unless link() names it.
   */
  tmpfile(flags: number, setid: number): number {
    const fd = ownFd(native.openat2(this.dir(), '.', (flags & ~(O_TRUNC | O_CREAT)) | O_TMPFILE | O_CLOEXEC, 0o777, NO_SYMLINKS));
    native.fchmod(fd, 0o777 | setid);
    return fd;
  }

  /**
   * Names the file behind `fd` (whose name is gone) in the storage, as
   * linkat through /proc/self/fd does: the host refuses (ENOENT) unless it is
   * an O_TMPFILE file opened without O_EXCL and never named, as Linux does.
   */
  link(fd: number): string {
    const name = (this.seq++).toString(36);
    check(native.linkat(AT_FDCWD, `/proc/self/fd/${fd}`, this.dir(), name, AT_SYMLINK_FOLLOW));
    return name;
  }

  /** Opens a stored file with open(2) flags; -errno on failure. */
  open(name: string, flags: number): number {
    return native.openat2(this.dir(), name, flags | O_CLOEXEC, 0, NO_SYMLINKS);
  }

  /** Forgets a stored file; the host frees it once no fd or mapping refers to it any more. */
  unlink(name: string): void {
    if (this.fd >= 0) native.unlinkat(this.fd, name, 0);
  }

  statx(name: string, out: Float64Array): number {
    return native.statxAt(this.dir(), name, AT_SYMLINK_NOFOLLOW, out);
  }

  utimens(name: string, times: [number, number, number, number]): void {
    native.utimensat(this.dir(), name, times, AT_SYMLINK_NOFOLLOW);
  }

  /** [blocks, bfree, bavail] in 4 KiB blocks, as the host tmpfs counts them (all free before it is mounted). */
  blocks(): [number, number, number] {
    if (this.fd < 0) {
      const total = Math.ceil(this.size / 4096);
      return [total, total, total];
    }
    const f = new Float64Array(12);
    check(native.fstatfsFd(this.fd, f));
    const scale = f[1]! / 4096;
    return [f[2]! * scale, f[3]! * scale, f[4]! * scale];
  }
}

/** Fails with ENOSPC when `n` more nodes do not fit in the sandbox's budget. */
export function chargeNodes(n: number): void {
  if (budget.nodes + n > SANDBOX_NODES) fail('ENOSPC');
  budget.nodes += n;
}

export function chargeMeta(bytes: number): void {
  if (budget.metaBytes + bytes > SANDBOX_META_BYTES) fail('ENOSPC');
  budget.metaBytes += bytes;
}

export function unchargeMeta(bytes: number): void {
  budget.metaBytes -= bytes;
}
