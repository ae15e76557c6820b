// What a guest fd refers to.
//
// Guest fds are real host fds: the guest may dup, close, pass and inherit them
// natively, so the Sentry never keeps a per-process fd table. To find out what
// fd N is, it takes a copy with pidfd_getfd, reads its (dev, ino) and looks
// that up among the objects it installed: storage files of in-memory file
// systems, directory placeholders and synthetic files are unique, host files
// from the Gofer map to the last path they were opened at.
//
// The table is bounded. Since the guest closes fds natively, the Sentry learns
// which entries are dead only by looking: when the table has doubled since the
// last look, it sweeps, keeping the entries some guest process still holds (an
// fd, a mapping) or recently passed in an SCM_RIGHTS message, and dropping the
// others (amortized O(1) per open). A guest fd whose entry went anyway (passed
// around for longer than that) is then a foreign fd: the Sentry acts on the
// host object itself, with no more rights than it has. Past TABLE_MAX live
// entries opens fail with ENFILE.
import fs from 'node:fs';
import { AT_FDCWD, AT_REMOVEDIR, MFD_CLOEXEC, O_ACCMODE, O_CLOEXEC, O_DIRECTORY, O_NOACCESS, O_NOFOLLOW, O_PATH, O_RDONLY, O_REOPEN_FLAGS } from '../abi/linux.js';
import { STATX, STATX_FIELDS, native } from '../platform/native.js';
import { ERRNO } from '../abi/errno.js';
import { fail, ownFd } from './errors.js';
import { BoundedLru } from './lru.js';
import type { Creds } from './creds.js';
import type { Process, Task } from './task.js';
import type { DirEntry, Location, Node } from './vfs/node.js';

/** Objects the table remembers at most: the Sentry's bound on open guest objects. */
export const TABLE_MAX = 1 << 17;
/** Below this size the table is never swept. */
const SWEEP_MIN = 4096;
/** A table still full after a sweep is swept again at most this often. */
const FULL_SWEEP_MS = 1000;
/** Entries of directory listings kept between getdents calls, all open directories together. */
export const LISTINGS_MAX = 1 << 18;
/** Objects recently sent with SCM_RIGHTS (maybe in no process while in flight): kept by sweeps. */
const IN_FLIGHT_MAX = 4096;

export interface OpenFile {
  loc: Location;
  /** open(2) flags the guest asked for */
  flags: number;
  /** the guest's fd is the node's own host object, not a placeholder: calls through the fd act on it (Via) */
  direct?: boolean;
  /** directory listing snapshot taken at position 0 (directories only); dropped at the end or under pressure */
  listing?: DirEntry[];
  /** synthetic (procfs) objects: the name shown by /proc/[pid]/fd */
  anon?: string;
  /** the process that opened it and its credentials then (Linux's f_cred, for linkat AT_EMPTY_PATH) */
  opener?: { proc: Process; creds: Creds };
}

export interface Identified {
  /** the Sentry's copy of the guest fd; the caller closes it */
  fd: number;
  /** attributes of the host object (statx layout) */
  sx: Float64Array;
  /** the object, when the Sentry installed it */
  file: OpenFile | undefined;
}

/** What the guest's placeholder directories cost at most: inodes of the private tmpfs (each lives as long as a guest fd). */
const PLACEHOLDER_DIRS_MAX = 2 * TABLE_MAX;

/** A host object's identity (dev major:minor:inode), as the table keys it. */
export function hostKey(sx: Float64Array): string {
  return `${sx[STATX.devMajor]}:${sx[STATX.devMinor]}:${sx[STATX.ino]}`;
}

/** A host object a guest process holds: the path that opens it again. */
interface Held {
  key: string;
  path: string;
}

export class FileTable {
  private readonly byKey = new Map<string, OpenFile>();
  private readonly sx = new Float64Array(STATX_FIELDS);
  private sweepAt = SWEEP_MIN;
  private lastSweep = 0;
  /** open directories holding a listing, least recently read first, with its length */
  private readonly listings = new Map<OpenFile, number>();
  private listed = 0;
  private readonly inFlight = new BoundedLru<string, true>(IN_FLIGHT_MAX);

  /** `guests`: host tgids of the guest's live processes. */
  constructor(private readonly guests: () => Iterable<number>) {}

  get size(): number {
    return this.byKey.size;
  }

  /** Remembers what `hostFd` (about to be installed in a guest) is; ENFILE when the table is full. */
  register(hostFd: number, file: OpenFile): void {
    if (native.statxFd(hostFd, this.sx) !== 0) return;
    const k = hostKey(this.sx);
    if (!this.byKey.has(k) && this.byKey.size >= this.sweepAt) this.sweep();
    if (!this.byKey.has(k) && this.byKey.size >= TABLE_MAX) fail('ENFILE');
    this.byKey.set(k, file);
  }

  /**
   * A fresh, unique placeholder fd for `file`: an O_PATH fd, or a directory
   * without a host fd of its own (see the top of this file).
   */
  placeholder(file: OpenFile): number {
    const fd = file.flags & O_PATH ? this.pathPlaceholder() : this.dirPlaceholder(file.flags);
    try {
      this.register(fd, file);
    } catch (e) {
      native.close(fd);
      throw e;
    }
    return fd;
  }

  private placeholders = -1;
  private placeholderSeq = 0;

  /** An empty directory of the Sentry's private tmpfs, opened with the guest's flags and removed. */
  private dirPlaceholder(flags: number): number {
    if (this.placeholders < 0) this.placeholders = ownFd(native.tmpfsMount(4096, PLACEHOLDER_DIRS_MAX + 1));
    const name = (this.placeholderSeq++).toString(36);
    const r = native.mkdirat(this.placeholders, name, 0o500);
    if (r === -ERRNO.ENOSPC) fail('ENFILE');
    ownFd(r);
    // The guest's status flags (and O_DIRECTORY only if asked): F_GETFL shows what it opened with.
    const fd = native.openat2(this.placeholders, name, O_RDONLY | O_CLOEXEC | (flags & ((O_REOPEN_FLAGS & ~O_ACCMODE) | O_DIRECTORY | O_NOFOLLOW)), 0, 0);
    native.unlinkat(this.placeholders, name, AT_REMOVEDIR);
    return ownFd(fd);
  }

  /** A memfd opened with access mode 3: no reads, no writes, as an O_PATH fd. */
  private pathPlaceholder(): number {
    const m = ownFd(native.memfdCreate('tsvisor-path', MFD_CLOEXEC));
    const fd = native.reopen(m, O_NOACCESS | O_CLOEXEC);
    native.close(m);
    return ownFd(fd);
  }

  /** Copies guest fd `guestFd` of `t` and identifies it. Throws EBADF for a closed fd. */
  identify(t: Task, guestFd: number): Identified {
    if (guestFd < 0) fail('EBADF');
    const fd = native.pidfdGetfd(t.proc.pidfd(), guestFd);
    if (fd === -ERRNO.EMFILE) fail('ENFILE');
    if (fd < 0) fail('EBADF');
    const sx = new Float64Array(STATX_FIELDS);
    if (native.statxFd(fd, sx) < 0) {
      native.close(fd);
      fail('EBADF');
    }
    return { fd, sx, file: this.byKey.get(hostKey(sx)) };
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

  /** Entries in use, for the dentry cache's pins. */
  entries(): IterableIterator<OpenFile> {
    return this.byKey.values();
  }

  /** `fd` (a Sentry copy of a guest fd) is being sent with SCM_RIGHTS: keep its entry while it may be in flight. */
  sending(fd: number): void {
    if (native.statxFd(fd, this.sx) !== 0) return;
    const k = hostKey(this.sx);
    this.inFlight.set(k, true);
  }

  /** Keeps `entries` as the listing of open directory `file`; the oldest listings go past LISTINGS_MAX. */
  keepListing(file: OpenFile, entries: DirEntry[]): void {
    this.dropListing(file);
    file.listing = entries;
    this.listings.set(file, entries.length);
    this.listed += entries.length;
    for (const f of this.listings.keys()) {
      if (this.listed <= LISTINGS_MAX || f === file) break;
      this.dropListing(f);
    }
  }

  /** Forgets a listing (read to its end, or evicted): a later getdents lists the directory again. */
  dropListing(file: OpenFile): void {
    const n = this.listings.get(file);
    if (n === undefined) return;
    this.listings.delete(file);
    this.listed -= n;
    file.listing = undefined;
  }

  /** Drops the entries no guest process holds any more. */
  sweep(): void {
    const now = Date.now();
    if (this.byKey.size >= TABLE_MAX && now - this.lastSweep < FULL_SWEEP_MS) return;
    this.lastSweep = now;
    const live = new Set(this.inFlight.keys());
    for (const h of this.held()) live.add(h.key);
    for (const [k, file] of this.byKey) {
      if (live.has(k)) continue;
      this.byKey.delete(k);
      this.dropListing(file);
    }
    this.sweepAt = Math.min(TABLE_MAX, Math.max(SWEEP_MIN, 2 * this.byKey.size));
  }

  /**
   * Opens the host object (dev, ino) through a reference a guest process
   * holds, an fd or a mapping: how a file whose last link is gone is reopened
   * (/proc/self/fd/N of a deleted file). -ENOENT when no guest holds it.
   */
  openHeld(devMajor: number, devMinor: number, ino: number, flags: number): number {
    const want = `${devMajor}:${devMinor}:${ino}`;
    for (const h of this.held()) {
      if (h.key !== want) continue;
      const path = this.openIfStill(h);
      if (path === -ERRNO.EMFILE || (path >= 0 && flags & O_PATH)) return path;
      if (path < 0) continue;
      const fd = native.reopen(path, flags);
      native.close(path);
      if (fd >= 0 || fd === -ERRNO.EMFILE) return fd;
    }
    return -ERRNO.ENOENT;
  }

  /**
   * An O_PATH fd of what `h` names, if it is still the object `h.key` says:
   * the guest may have put another fd in the slot (dup2) or mapped another
   * file at the range since the scan looked, and an open of the link as the
   * Sentry (host root) would give it that file with the Sentry's access, and
   * with any side effect of opening it (a FIFO's blocking open). -ENOENT if
   * it changed.
   */
  private openIfStill(h: Held): number {
    const fd = native.openat2(AT_FDCWD, h.path, O_PATH | O_CLOEXEC, 0, 0);
    if (fd < 0) return fd;
    const sx = new Float64Array(STATX_FIELDS);
    if (native.statxFd(fd, sx) === 0 && hostKey(sx) === h.key) return fd;
    native.close(fd);
    return -ERRNO.ENOENT;
  }

  /** O_PATH fds (the caller's to close) of the host objects guest processes hold that were installed for `node`. */
  openHeldFor(node: Node): number[] {
    const fds: number[] = [];
    const seen = new Set<string>();
    for (const h of this.held()) {
      if (seen.has(h.key) || this.byKey.get(h.key)?.loc.dentry.node !== node) continue;
      const fd = this.openIfStill(h);
      if (fd < 0) continue;
      seen.add(h.key);
      fds.push(fd);
    }
    return fds;
  }

  /** The guest fds that refer to host object (dev major, dev minor, inode): [host tgid, fd] pairs. */
  *holders(devMajor: number, devMinor: number, ino: number): Generator<[number, number]> {
    const want = `${devMajor}:${devMinor}:${ino}`;
    for (const tgid of this.guests()) {
      for (const h of this.heldFds(tgid)) if (h.key === want) yield [tgid, h.fd];
    }
  }

  /** The host objects behind the fds of guest process `tgid`. */
  private *heldFds(tgid: number): Generator<Held & { fd: number }> {
    const sx = new Float64Array(STATX_FIELDS);
    const dir = `/proc/${tgid}/fd`;
    const dirFd = native.openat2(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0);
    if (dirFd < 0) return;
    try {
      let names: string[] = [];
      try {
        names = fs.readdirSync(dir);
      } catch {
        /* exited */
      }
      for (const n of names) {
        if (native.statxAt(dirFd, n, 0, sx) === 0) yield { key: hostKey(sx), path: `${dir}/${n}`, fd: Number(n) };
      }
    } finally {
      native.close(dirFd);
    }
  }

  /** Every host object the guest's processes hold: their fds, then their mapped files. */
  private *held(): Generator<Held> {
    for (const tgid of this.guests()) {
      yield* this.heldFds(tgid);
      let maps = '';
      try {
        maps = fs.readFileSync(`/proc/${tgid}/maps`, 'latin1');
      } catch {
        continue;
      }
      for (const m of maps.matchAll(/^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ ([0-9a-f]+):([0-9a-f]+) (\d+)/gm)) {
        if (m[5] === '0') continue;
        // maps pads addresses to 8 digits, map_files names them without padding.
        const range = `${parseInt(m[1]!, 16).toString(16)}-${parseInt(m[2]!, 16).toString(16)}`;
        yield { key: `${parseInt(m[3]!, 16)}:${parseInt(m[4]!, 16)}:${m[5]}`, path: `/proc/${tgid}/map_files/${range}` };
      }
    }
  }
}
