// Shadow inodes: how the Sentry makes the host kernel queue an inotify event.
//
// A guest's inotify fd is a real host inotify instance, so its reads, polls,
// FIONREAD, coalescing and overflow are the host kernel's own. Each guest
// watch is a host watch on a shadow inode of the Sentry's: an empty file or
// directory in a private tmpfs mounted nowhere (no guest and no host path
// reaches it). To queue event E for a guest watch, the Sentry performs on the
// shadow an operation whose host event is E; operations the Sentry needs
// around it (creating the child an event names, removing it again) run while
// the host watch's mask leaves their events out ("quiet").
import {
  AT_REMOVEDIR,
  IN_ACCESS,
  IN_ATTRIB,
  IN_CLOSE_NOWRITE,
  IN_CLOSE_WRITE,
  IN_CREATE,
  IN_DELETE,
  IN_DONT_FOLLOW,
  IN_MODIFY,
  IN_OPEN,
  O_CLOEXEC,
  O_RDONLY,
  O_WRONLY,
  S_IFREG,
  UTIME_NOW,
  UTIME_OMIT,
} from '../../abi/linux.js';
import { native } from '../../platform/native.js';
import { check, ownFd } from '../errors.js';

/** The host side of one guest watch. */
export interface HostWatch {
  /** the Sentry's copy of the guest's inotify instance */
  readonly instFd: number;
  /** name of the shadow in the shadow tmpfs's root */
  shadow: string;
  /** the host watch's current event mask (and flags passed to the host) */
  hostMask: number;
}

const TIMES: Record<number, [number, number, number, number]> = {
  [IN_ACCESS]: [0, UTIME_NOW, 0, UTIME_OMIT],
  [IN_MODIFY]: [0, UTIME_OMIT, 0, UTIME_NOW],
  [IN_ATTRIB]: [0, UTIME_NOW, 0, UTIME_NOW],
};

export class Shadows {
  private root = -1;
  private seq = 0;

  constructor(private readonly inodes: number) {}

  private dir(): number {
    // 64 KiB: shadows are empty; one inode per watch and a few in passing.
    if (this.root < 0) this.root = ownFd(native.tmpfsMount(64 << 10, this.inodes + 16));
    return this.root;
  }

  private path(name: string): string {
    return `/proc/self/fd/${this.dir()}/${name}`;
  }

  /** A new shadow (a directory for a watched directory, so events carry IN_ISDIR as Linux's do). */
  make(isDir: boolean): string {
    const name = `s${(this.seq++).toString(36)}`;
    const d = this.dir();
    check(isDir ? native.mkdirat(d, name, 0o700) : native.mknodat(d, name, S_IFREG | 0o600, 0));
    return name;
  }

  /** Removes a shadow no watch uses any more (its host watch, if any, goes with it: IN_DELETE_SELF and IN_IGNORED). */
  remove(name: string, isDir: boolean): void {
    native.unlinkat(this.dir(), name, isDir ? AT_REMOVEDIR : 0);
  }

  /** Removes a watched shadow: the host queues IN_DELETE_SELF (if in the mask) and IN_IGNORED, not the IN_ATTRIB of the link count. */
  removeWatched(w: HostWatch, isDir: boolean): void {
    if (!isDir && w.hostMask & IN_ATTRIB) native.inotifyAddWatch(w.instFd, this.path(w.shadow), (w.hostMask & ~IN_ATTRIB) | IN_DONT_FOLLOW);
    this.remove(w.shadow, isDir);
  }

  /** inotify_add_watch on the shadow for the instance: the wd or -errno. */
  watch(instFd: number, name: string, mask: number): number {
    return native.inotifyAddWatch(instFd, this.path(name), mask);
  }

  /** Runs `fn` while the host watch leaves out `bits`. */
  private quiet(w: HostWatch | null, bits: number, fn: () => void): void {
    if (!w || !(w.hostMask & bits)) {
      fn();
      return;
    }
    // A mask without events is still a valid one (IN_DONT_FOLLOW changes nothing on a shadow).
    native.inotifyAddWatch(w.instFd, this.path(w.shadow), (w.hostMask & ~bits) | IN_DONT_FOLLOW);
    try {
      fn();
    } finally {
      native.inotifyAddWatch(w.instFd, this.path(w.shadow), w.hostMask);
    }
  }

  /** Queues an event about the watched object itself: IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_OPEN, IN_CLOSE_*. */
  self(w: HostWatch, ev: number, isDir: boolean): void {
    this.act(w, w.shadow, ev, isDir);
  }

  /** Queues an event about child `name` of a watched directory (IN_CREATE and IN_DELETE included). */
  child(w: HostWatch, ev: number, name: string, isDir: boolean): void {
    const rel = `${w.shadow}/${name}`;
    const d = this.dir();
    const mk = () => check(isDir ? native.mkdirat(d, rel, 0o700) : native.mknodat(d, rel, S_IFREG | 0o600, 0));
    const rm = () => check(native.unlinkat(d, rel, isDir ? AT_REMOVEDIR : 0));
    if (ev === IN_CREATE) {
      mk();
      this.quiet(w, IN_DELETE, rm);
      return;
    }
    this.quiet(w, IN_CREATE, mk);
    try {
      if (ev !== IN_DELETE) this.act(w, rel, ev, isDir);
    } finally {
      if (ev === IN_DELETE) rm();
      else this.quiet(w, IN_DELETE, rm);
    }
  }

  /**
   * Queues IN_MOVED_FROM on `from` and IN_MOVED_TO on `to` (either may be
   * null: a move into or out of what the instance watches) with one cookie.
   */
  move(from: HostWatch | null, fromName: string, to: HostWatch | null, toName: string, isDir: boolean): void {
    const d = this.dir();
    const src = from ? `${from.shadow}/${fromName}` : `m${(this.seq++).toString(36)}`;
    const dst = to ? `${to.shadow}/${toName}` : `m${(this.seq++).toString(36)}`;
    this.quiet(from, IN_CREATE, () => check(isDir ? native.mkdirat(d, src, 0o700) : native.mknodat(d, src, S_IFREG | 0o600, 0)));
    try {
      check(native.renameat2(d, src, d, dst, 0));
    } catch (e) {
      native.unlinkat(d, src, isDir ? AT_REMOVEDIR : 0);
      throw e;
    }
    this.quiet(to, IN_DELETE, () => check(native.unlinkat(d, dst, isDir ? AT_REMOVEDIR : 0)));
  }

  /** Queues IN_MOVE_SELF: the shadow is renamed within the shadow root. */
  moveSelf(w: HostWatch): void {
    const name = `s${(this.seq++).toString(36)}`;
    check(native.renameat2(this.dir(), w.shadow, this.dir(), name, 0));
    w.shadow = name;
  }

  private act(w: HostWatch, rel: string, ev: number, isDir: boolean): void {
    const d = this.dir();
    const times = TIMES[ev];
    if (times) {
      check(native.utimensat(d, rel, times, 0));
      return;
    }
    const open = (flags: number) => ownFd(native.openat2(d, rel, flags | O_CLOEXEC, 0, 0));
    if (ev === IN_OPEN) {
      const fd = open(O_RDONLY);
      this.quiet(w, IN_CLOSE_NOWRITE, () => native.close(fd));
    } else if (ev === IN_CLOSE_NOWRITE || ev === IN_CLOSE_WRITE) {
      let fd = -1;
      this.quiet(w, IN_OPEN, () => {
        fd = open(ev === IN_CLOSE_WRITE && !isDir ? O_WRONLY : O_RDONLY);
      });
      native.close(fd);
    }
  }
}
