// inotify: the guest's instances and watches, and the events the VFS reports.
//
// An instance is a host inotify instance the Sentry made and installed in the
// guest (reads, poll, FIONREAD, overflow and coalescing are the host's); a
// watch is a host watch on a shadow inode (shadow.ts), so the host numbers
// watch descriptors as Linux does. The syscall handlers that change the VFS
// call the event methods below after a successful change; they cost nothing
// while no watch exists.
import fs from 'node:fs';
import {
  IN_ACCESS,
  IN_ALL_EVENTS,
  IN_ATTRIB,
  IN_CLOSE_NOWRITE,
  IN_CREATE,
  IN_DELETE,
  IN_DONT_FOLLOW,
  IN_EXCL_UNLINK,
  IN_MASK_ADD,
  IN_MASK_CREATE,
  IN_MODIFY,
  IN_MOVE_SELF,
  IN_MOVED_FROM,
  IN_MOVED_TO,
  IN_NONBLOCK,
  IN_ONESHOT,
  IN_ONLYDIR,
  O_CLOEXEC,
  O_PATH,
  UTIME_OMIT,
} from '../../abi/linux.js';
import { ERRNO } from '../../abi/errno.js';
import { native } from '../../platform/native.js';
import { SysErr, check, fail, ownFd } from '../errors.js';
import type { OpenFile } from '../files.js';
import { MemFile } from '../vfs/memfs.js';
import type { Dentry, Node, SetAttr } from '../vfs/node.js';
import { OverlayNode } from '../vfs/overlayfs.js';
import { DATA_EVENTS, DataObserver } from './data.js';
import { type HostWatch, Shadows } from './shadow.js';

/**
 * Instances a sandbox may hold; EMFILE past it. Every instance is charged to
 * host root's fs.inotify.max_user_instances (128 by default, the Sentry's and
 * the guest's user namespace's creator alike), so one sandbox takes at most
 * half of it.
 */
export const INSTANCES_MAX = 64;
/** Below this many instances no sweep. */
const SWEEP_MIN = 8;
/** Watches of all instances together (Linux's max_user_watches is per user and scales with memory); ENOSPC past it. */
export const WATCHES_MAX = 1 << 16;

export interface Instance {
  /** the Sentry's copy of the instance */
  readonly fd: number;
  /** by watched object */
  readonly watches: Map<string, Watch>;
}

interface Watch extends HostWatch {
  readonly inst: Instance;
  readonly key: string;
  readonly wd: number;
  /** the guest's mask (events and IN_ONESHOT, IN_EXCL_UNLINK) */
  mask: number;
  readonly isDir: boolean;
}

export class Inotify {
  private readonly instances = new Set<Instance>();
  /** watches by watched object (file system dev and inode) */
  private readonly byKey = new Map<string, Set<Watch>>();
  private count = 0;
  private sweepAt = SWEEP_MIN;
  private readonly shadows = new Shadows(WATCHES_MAX);
  private readonly keys = new WeakMap<Node, string>();
  private readonly data = new DataObserver((d, ev) => this.event(d, ev));

  constructor(
    /** host tgids of the guest's live processes (to find instances no guest holds any more) */
    private readonly guests: () => Iterable<number>,
    /** the objects guest fds refer to (the file table) */
    private readonly openFiles: () => Iterable<OpenFile>,
    /** O_PATH fds of the host objects guest processes hold for a node (directory placeholders) */
    private readonly heldFor: (node: Node) => number[],
    /** returns once the Gofer closed its copies of the fds it last sent (one round trip) */
    private readonly goferSettled: () => void,
  ) {}

  /** A new instance: the host fd to install in the guest (the Sentry keeps its own copy). */
  create(flags: number): number {
    // The Sentry's copy keeps an instance the guest closed alive: those go
    // when the count doubled since the last look (amortized), at the limit,
    // and when the host refuses a new one.
    if (this.instances.size >= Math.min(this.sweepAt, INSTANCES_MAX)) this.sweep();
    if (this.instances.size >= INSTANCES_MAX) fail('EMFILE');
    let fd = native.inotifyInit1((flags & IN_NONBLOCK) | O_CLOEXEC);
    if (fd === -ERRNO.EMFILE && this.sweep()) fd = native.inotifyInit1((flags & IN_NONBLOCK) | O_CLOEXEC);
    // The host's limit for the user: EMFILE, as Linux says past max_user_instances.
    if (fd === -ERRNO.EMFILE) fail('EMFILE');
    ownFd(fd);
    const own = native.dup(fd);
    if (own < 0) {
      native.close(fd);
      ownFd(own);
    }
    this.instances.add({ fd: own, watches: new Map() });
    return fd;
  }

  /** The instance behind `fd` (the Sentry's copy of a guest fd); EINVAL for anything else. */
  instance(fd: number): Instance {
    let link = '';
    try {
      link = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      fail('EBADF');
    }
    if (link !== 'anon_inode:inotify') fail('EINVAL');
    for (const inst of this.instances) if (native.kcmpFile(inst.fd, process.pid, fd) === 1) return inst;
    // Not one the Sentry made (cannot happen unless it was swept while in flight): adopt it.
    if (this.instances.size >= INSTANCES_MAX) this.sweep();
    const inst = { fd: ownFd(native.dup(fd)), watches: new Map<string, Watch>() };
    this.instances.add(inst);
    return inst;
  }

  /** inotify_add_watch on `node` (resolved and permission-checked by the caller): the wd. */
  addWatch(inst: Instance, node: Node, mask: number): number {
    if (mask & IN_ONLYDIR && !node.isDir()) fail('ENOTDIR');
    const key = this.keyOf(node);
    if (key === undefined) fail('ENOENT');
    const events = mask & IN_ALL_EVENTS;
    let w = inst.watches.get(key);
    if (w) {
      if (mask & IN_MASK_CREATE) fail('EEXIST');
      const merged = mask & IN_MASK_ADD ? w.mask | mask : mask;
      const host = hostMask(merged);
      check(this.shadows.watch(inst.fd, w.shadow, host));
      if (merged & ~w.mask & DATA_EVENTS) this.observeOpen(node);
      w.mask = merged & (IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK);
      w.hostMask = host;
      return w.wd;
    }
    if (this.count >= WATCHES_MAX) this.sweep();
    if (this.count >= WATCHES_MAX) fail('ENOSPC');
    const isDir = node.isDir();
    const shadow = this.shadows.make(isDir);
    const host = hostMask(mask);
    const wd = this.shadows.watch(inst.fd, shadow, host);
    if (wd < 0) {
      this.shadows.remove(shadow, isDir);
      check(wd);
    }
    w = { inst, key, wd, mask: mask & (events | IN_ONESHOT | IN_EXCL_UNLINK), isDir, instFd: inst.fd, shadow, hostMask: host };
    inst.watches.set(key, w);
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(w);
    this.count++;
    // Open fds of a watched file: their data events, and the last close's IN_DELETE_SELF.
    if (mask & DATA_EVENTS || node.isRegular()) this.observeOpen(node);
    return wd;
  }

  /** inotify_rm_watch: the host queues IN_IGNORED. */
  rmWatch(inst: Instance, wd: number): void {
    for (const w of inst.watches.values()) {
      if (w.wd === wd) {
        check(native.inotifyRmWatch(inst.fd, wd));
        this.drop(w);
        return;
      }
    }
    fail('EINVAL');
  }

  // Events. Each is reported to watches on the object, and those that name
  // a child (with the child's name) to watches on its parent directory, in
  // Linux's order: the parent's watch first.

  /** `ev` (IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_OPEN, IN_CLOSE_*) happened to the object `d` names. */
  event(d: Dentry, ev: number): void {
    if (!this.byKey.size) return;
    const isDir = d.node.isDir();
    // IN_EXCL_UNLINK: no data events of an fd whose name was unlinked.
    const unlinked = ev & DATA_EVENTS && !isDir ? gone(d.node) : false;
    if (d.parent) this.toChild(d.parent.node, ev, d.name, isDir, unlinked);
    this.toSelf(d.node, ev, isDir, unlinked);
  }

  /**
   * The guest is about to get host fd `fd` for `d`: when a watch asks data
   * events of it (or of its directory), the Sentry observes the host object.
   */
  opening(d: Dentry, fd: number): void {
    if (!this.byKey.size) return;
    // What the Sentry's open did (truncating the storage file) is not the guest's.
    this.data.drain(false);
    let events = 0;
    for (const w of this.watchesOf(d.node)) events |= w.mask;
    if (d.parent) for (const w of this.watchesOf(d.parent.node)) events |= w.mask;
    // A directory's fd is a placeholder: only its close is the guest's.
    events &= d.node.isDir() ? IN_CLOSE_NOWRITE : DATA_EVENTS;
    if (!events) {
      if (!d.node.isDir()) this.data.renamed(fd, d);
      return;
    }
    const memory = inMemory(d.node);
    // The Gofer closes its copy of a file it opened after sending it: were
    // that the last close (the guest's came first), the host would report
    // IN_CLOSE_* during some later call of the Sentry's, which drops it.
    if (!memory) this.goferSettled();
    this.data.observe(fd, d, memory);
  }

  /**
   * Before a trapped call: queues the data events of the guest's own host
   * calls made since (so a write followed by any trapped call, FIONREAD
   * included, finds its event queued, as on Linux).
   */
  flush(): void {
    this.data.drain(true);
  }

  /** After a trapped call: what the Sentry's own accesses to observed objects caused is not the guest's. */
  settle(): void {
    this.data.drain(false);
  }

  close(): void {
    this.data.close();
  }

  /** Observes the regular files guest fds already refer to: `node`, or its children when a directory. */
  private observeOpen(node: Node): void {
    const seen = new Set<Node>();
    for (const f of this.openFiles()) {
      const d = f.loc.dentry;
      if (!d.node.isRegular() || seen.has(d.node) || (d.node !== node && d.parent?.node !== node)) continue;
      seen.add(d.node);
      let fd = -1;
      try {
        fd = d.node.open(O_PATH).fd;
        this.data.observe(fd, d, inMemory(d.node));
      } catch {
        // gone meanwhile: nothing to observe
      } finally {
        if (fd >= 0) native.close(fd);
      }
    }
  }

  /** The event mask a setattr causes (fsnotify_change). */
  static attrEvents(a: SetAttr): number {
    let ev = 0;
    if (a.mode !== undefined || a.uid !== undefined || a.gid !== undefined) ev |= IN_ATTRIB;
    if (a.size !== undefined) ev |= IN_MODIFY;
    const atime = a.atime !== undefined && a.atime[1] !== UTIME_OMIT;
    const mtime = a.mtime !== undefined && a.mtime[1] !== UTIME_OMIT;
    if (atime && mtime) ev |= IN_ATTRIB;
    else if (atime) ev |= IN_ACCESS;
    else if (mtime) ev |= IN_MODIFY;
    return ev;
  }

  /** A setattr changed `d`'s object. */
  changed(d: Dentry, a: SetAttr): void {
    if (!this.byKey.size) return;
    const ev = Inotify.attrEvents(a);
    // One event with both bits, as fsnotify_change sends it.
    if (ev) this.event(d, ev);
  }

  /** `name` was made in directory `dir` (IN_CREATE). */
  created(dir: Node, name: string, child: Node): void {
    if (!this.byKey.size) return;
    this.toChild(dir, IN_CREATE, name, child.isDir());
  }

  /** A hard link `name` to `node` was made in `dir`. */
  linked(dir: Node, name: string, node: Node): void {
    if (!this.byKey.size) return;
    this.toSelf(node, IN_ATTRIB, false);
    this.toChild(dir, IN_CREATE, name, false);
  }

  /** `name` (the object `child`) was removed from `dir` by unlink or rmdir. */
  removed(dir: Node, name: string, child: Node): void {
    if (!this.byKey.size) return;
    const isDir = child.isDir();
    if (!isDir) this.toSelf(child, IN_ATTRIB, false);
    if (isDir || gone(child)) this.deleted(child);
    this.toChild(dir, IN_DELETE, name, isDir);
  }

  /** rename(2) moved `node` from `oldDir`/`oldName` to `newDir`/`newName`, replacing `replaced`. */
  renamed(oldDir: Node, oldName: string, newDir: Node, newName: string, node: Node, replaced: Node | null): void {
    if (!this.byKey.size) return;
    const isDir = node.isDir();
    const from = this.watchesOf(oldDir);
    const to = this.watchesOf(newDir);
    for (const inst of this.instances) {
      const f = pick(from, inst, IN_MOVED_FROM);
      const t = pick(to, inst, IN_MOVED_TO);
      if (!f && !t) continue;
      if (!queued(() => this.shadows.move(f, oldName, t, newName, isDir))) continue;
      if (f) this.after(f);
      if (t && t !== f) this.after(t);
    }
    if (replaced) this.toSelf(replaced, IN_ATTRIB, false);
    this.toSelf(node, IN_MOVE_SELF, isDir);
    if (replaced && (replaced.isDir() || gone(replaced))) this.deleted(replaced);
  }

  private deleted(node: Node): void {
    const watches = this.watchesOf(node);
    if (!watches.length) return;
    if (!node.isDir() && this.data.deferDelete(node, () => this.deleted(node))) return;
    if (node.isDir()) {
      // A removed directory is freed (IN_DELETE_SELF) when its last open fd
      // (each a placeholder of its own) is closed.
      let pending = 0;
      const last = () => {
        if (--pending === 0) this.deleted(node);
      };
      for (const fd of this.heldFor(node)) {
        if (this.data.untilGone(fd, last)) pending++;
        native.close(fd);
      }
      if (pending) return;
    }
    for (const w of watches) {
      // Removing the shadow makes the host queue IN_DELETE_SELF (if asked for) and IN_IGNORED.
      queued(() => this.shadows.removeWatched(w, w.isDir));
      this.forget(w);
    }
  }

  private toSelf(node: Node, ev: number, isDir: boolean, unlinked = false): void {
    for (const w of this.watchesOf(node)) {
      if (!(w.mask & ev) || (unlinked && w.mask & IN_EXCL_UNLINK)) continue;
      const done = queued(() => (ev === IN_MOVE_SELF ? this.shadows.moveSelf(w) : this.shadows.self(w, ev, isDir)));
      if (done) this.after(w);
    }
  }

  private toChild(dir: Node, ev: number, name: string, isDir: boolean, unlinked = false): void {
    for (const w of this.watchesOf(dir)) {
      if (!(w.mask & ev) || (unlinked && w.mask & IN_EXCL_UNLINK)) continue;
      if (queued(() => this.shadows.child(w, ev, name, isDir))) this.after(w);
    }
  }

  /** After an event was queued for `w`: an IN_ONESHOT watch ends (the host queues IN_IGNORED). */
  private after(w: Watch): void {
    if (!(w.mask & IN_ONESHOT)) return;
    native.inotifyRmWatch(w.instFd, w.wd);
    this.drop(w);
  }

  private watchesOf(node: Node): Watch[] {
    const key = this.keyOf(node);
    const set = key === undefined ? undefined : this.byKey.get(key);
    return set ? [...set] : [];
  }

  /** Removes a watch whose host watch is gone, and its shadow. */
  private drop(w: Watch): void {
    this.forget(w);
    this.shadows.remove(w.shadow, w.isDir);
  }

  private forget(w: Watch): void {
    if (w.inst.watches.get(w.key) !== w) return;
    w.inst.watches.delete(w.key);
    const set = this.byKey.get(w.key);
    set?.delete(w);
    if (set && !set.size) this.byKey.delete(w.key);
    this.count--;
  }

  /** The watched-object key of a node: its file system and inode number. */
  private keyOf(node: Node): string | undefined {
    let key = this.keys.get(node);
    if (key === undefined) {
      try {
        key = `${node.fs.dev}:${node.stat().ino}`;
      } catch {
        return undefined;
      }
      this.keys.set(node, key);
    }
    return key;
  }

  /** Drops the instances no guest process holds any more, with their watches; true if any went. */
  private sweep(): boolean {
    const before = this.instances.size;
    const held = new Set<Instance>();
    for (const pid of this.guests()) {
      let fds: string[];
      try {
        fds = fs.readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const n of fds) {
        let link: string;
        try {
          link = fs.readlinkSync(`/proc/${pid}/fd/${n}`);
        } catch {
          continue;
        }
        if (link !== 'anon_inode:inotify') continue;
        for (const inst of this.instances) if (!held.has(inst) && native.kcmpFile(inst.fd, pid, Number(n)) === 1) held.add(inst);
      }
    }
    for (const inst of this.instances) {
      if (held.has(inst)) continue;
      for (const w of [...inst.watches.values()]) this.drop(w);
      native.close(inst.fd);
      this.instances.delete(inst);
    }
    this.sweepAt = Math.max(SWEEP_MIN, 2 * this.instances.size);
    return this.instances.size < before;
  }
}

/**
 * The host watch's mask: the events only. The Sentry applies the flags itself
 * (IN_MASK_ADD, IN_MASK_CREATE, IN_ONESHOT, IN_ONLYDIR) and always replaces
 * the host mask; a mask without events is still valid with IN_DONT_FOLLOW,
 * which changes nothing on a shadow.
 */
function hostMask(mask: number): number {
  return mask & IN_ALL_EVENTS || IN_DONT_FOLLOW;
}

/** The watch of `inst` among `ws` that asked for `ev`. */
function pick(ws: Watch[], inst: Instance, ev: number): Watch | null {
  for (const w of ws) if (w.inst === inst && w.mask & ev) return w;
  return null;
}

/**
 * Runs a shadow operation; false when the host refused it (the shadow tmpfs
 * full, the Sentry out of fds): the event is lost, and the guest's call,
 * which has succeeded, is not failed for it.
 */
function queued(op: () => void): boolean {
  try {
    op();
    return true;
  } catch (e) {
    if (e instanceof SysErr) return false;
    throw e;
  }
}

/** A file whose contents are in an in-memory file system's storage (tmpfs, the overlay's upper layer). */
function inMemory(node: Node): boolean {
  return (node instanceof OverlayNode ? node.upper : node) instanceof MemFile;
}

/** The object's last link is gone. */
function gone(node: Node): boolean {
  try {
    return node.stat().nlink === 0;
  } catch {
    return true;
  }
}
