// What a guest fd refers to.
//
// Guest fds are real host fds: the guest may dup, close, pass and inherit them
// natively, so the Sentry never keeps a per-process fd table. To find out what
// fd N is, it takes a copy with pidfd_getfd, reads its (dev, ino) and looks
// that up among the objects it installed: memfds (tmpfs files, directory
// placeholders, synthetic files) are unique, host files from the Gofer map
// to the last path they were opened at.
import { MFD_CLOEXEC, O_RDONLY } from '../abi/linux.js';
import { STATX, STATX_FIELDS, native } from '../platform/native.js';
import { check, fail } from './errors.js';
import type { Task } from './task.js';
import type { DirEntry, Location } from './vfs/node.js';

export interface OpenFile {
  loc: Location;
  /** open(2) flags the guest asked for */
  flags: number;
  /** directory listing snapshot taken at position 0 (directories only) */
  listing?: DirEntry[];
  /** synthetic (procfs) objects: the name shown by /proc/[pid]/fd */
  anon?: string;
}

export interface Identified {
  /** the Sentry's copy of the guest fd; the caller closes it */
  fd: number;
  /** attributes of the host object (statx layout) */
  sx: Float64Array;
  /** the object, when the Sentry installed it */
  file: OpenFile | undefined;
}

function key(sx: Float64Array): string {
  return `${sx[STATX.devMajor]}:${sx[STATX.devMinor]}:${sx[STATX.ino]}`;
}

export class FileTable {
  private readonly byKey = new Map<string, OpenFile>();
  private readonly sx = new Float64Array(STATX_FIELDS);

  /** Remembers what `hostFd` (about to be installed in a guest) is. */
  register(hostFd: number, file: OpenFile): void {
    if (native.statxFd(hostFd, this.sx) === 0) this.byKey.set(key(this.sx), file);
  }

  /** A fresh, unique placeholder fd standing for a directory or another object without a host fd. */
  placeholder(file: OpenFile): number {
    const m = check(native.memfdCreate('tsvisor-dir', MFD_CLOEXEC));
    // Reopened read-only so the guest's fcntl(F_GETFL) sees O_RDONLY, as for a directory.
    const fd = native.reopen(m, O_RDONLY);
    native.close(m);
    check(fd);
    this.register(fd, file);
    return fd;
  }

  /** Copies guest fd `guestFd` of `t` and identifies it. Throws EBADF for a closed fd. */
  identify(t: Task, guestFd: number): Identified {
    if (guestFd < 0) fail('EBADF');
    const fd = native.pidfdGetfd(t.proc.pidfd(), guestFd);
    if (fd < 0) fail('EBADF');
    const sx = new Float64Array(STATX_FIELDS);
    if (native.statxFd(fd, sx) < 0) {
      native.close(fd);
      fail('EBADF');
    }
    return { fd, sx, file: this.byKey.get(key(sx)) };
  }

  /** Identifies and releases the copy: for callers that only need the object. */
  lookup(t: Task, guestFd: number): { file: OpenFile | undefined; sx: Float64Array } {
    const id = this.identify(t, guestFd);
    native.close(id.fd);
    return { file: id.file, sx: id.sx };
  }

  /** The object behind a host (dev major, dev minor, inode), as /proc/[pid]/maps names mapped files. */
  byHostKey(devMajor: number, devMinor: number, ino: number): OpenFile | undefined {
    return this.byKey.get(`${devMajor}:${devMinor}:${ino}`);
  }

}
