// Data events: reads, writes and closes of the guest's fds run on the host
// (the seccomp filter lets them through), so the Sentry never sees them. When
// it installs an fd for an object some watch asks data events of, it places a
// watch of its own on the host object behind the fd; what that watch reports
// is replayed to the guest's watches from the event loop, shortly after the
// call (not before it returns, as on Linux).
import fs from 'node:fs';
import { ERRNO } from '../../abi/errno.js';
import { IN_ACCESS, IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_IGNORED, IN_MASK_CREATE, IN_MODIFY, IN_NONBLOCK, O_CLOEXEC } from '../../abi/linux.js';
import { native } from '../../platform/native.js';
import type { Dentry, Node } from '../vfs/node.js';
import { BoundedLru } from '../lru.js';

export const DATA_EVENTS = IN_ACCESS | IN_MODIFY | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE;
/** Host objects observed at once; the least recently opened goes first. */
export const OBSERVED_MAX = 1 << 14;

export class DataObserver {
  private fd = -1;
  private watch = -1;
  /** what each of the Sentry's watches stands for: the name the guest last opened it by */
  private readonly byWd = new BoundedLru<number, Dentry>(OBSERVED_MAX, (wd, d) => {
    native.inotifyRmWatch(this.fd, wd);
    this.forget(wd, d);
  });
  /** watches on in-memory files' storage, which the host deletes at the last close once their last link is gone */
  private readonly memory = new Set<number>();
  private readonly byNode = new Map<Node, number>();
  /** what to do when an observed object is gone (IN_IGNORED) */
  private readonly whenGone = new Map<number, () => void>();
  private readonly buf = Buffer.alloc(1 << 16);

  constructor(private readonly deliver: (d: Dentry, ev: number) => void) {}

  /**
   * Observes the host object behind the Sentry's fd `hostFd`, which the guest
   * opens as `d`. Events are attributed to the name the object was last
   * opened by (the host reports the object, not the fd).
   */
  observe(hostFd: number, d: Dentry, inMemory: boolean): void {
    if (!this.open()) return;
    const wd = native.inotifyAddWatch(this.fd, `/proc/self/fd/${hostFd}`, DATA_EVENTS);
    if (wd < 0) return;
    this.byNode.set(d.node, wd);
    if (inMemory) this.memory.add(wd);
    this.byWd.set(wd, d);
    this.arm();
  }

  /**
   * An in-memory file lost its last link: when guest fds still hold it,
   * runs `fn` once the last of them is closed (the host deletes the storage
   * file then), as Linux reports IN_DELETE_SELF; false when nothing holds it.
   */
  deferDelete(node: Node, fn: () => void): boolean {
    if (this.byNode.get(node) === undefined) return false;
    this.drain(false);
    const wd = this.byNode.get(node);
    if (wd === undefined || !this.memory.has(wd)) return false;
    this.whenGone.set(wd, fn);
    return true;
  }

  /** Runs `fn` once the host object behind `hostFd` is freed (its last fd closed); false if it cannot be observed. */
  untilGone(hostFd: number, fn: () => void): boolean {
    if (!this.open()) return false;
    const wd = native.inotifyAddWatch(this.fd, `/proc/self/fd/${hostFd}`, IN_CLOSE_NOWRITE);
    if (wd < 0 || this.whenGone.has(wd)) return false;
    this.whenGone.set(wd, fn);
    this.arm();
    return true;
  }

  private open(): boolean {
    if (this.fd < 0) {
      const fd = native.inotifyInit1(IN_NONBLOCK | O_CLOEXEC);
      if (fd < 0) return false;
      this.fd = fd;
    }
    return true;
  }

  private gone(wd: number): void {
    const d = this.byWd.peek(wd);
    this.byWd.delete(wd);
    this.forget(wd, d);
  }

  /** Forgets watch `wd`, which stood for `d`, and runs what waited for its object to go. */
  private forget(wd: number, d: Dentry | undefined): void {
    this.memory.delete(wd);
    if (d && this.byNode.get(d.node) === wd) this.byNode.delete(d.node);
    const fn = this.whenGone.get(wd);
    this.whenGone.delete(wd);
    fn?.();
  }

  /** If the object behind `hostFd` is observed, its events are now `d`'s (opened by another name). */
  renamed(hostFd: number, d: Dentry): void {
    if (this.fd < 0 || !this.byWd.size) return;
    const path = `/proc/self/fd/${hostFd}`;
    const wd = native.inotifyAddWatch(this.fd, path, DATA_EVENTS | IN_MASK_CREATE);
    if (wd === -ERRNO.EEXIST) {
      const existing = native.inotifyAddWatch(this.fd, path, DATA_EVENTS);
      this.byWd.replace(existing, d);
      this.byNode.set(d.node, existing);
    } else if (wd >= 0) {
      native.inotifyRmWatch(this.fd, wd);
    }
  }

  close(): void {
    if (this.watch >= 0) native.unwatchFd(this.watch);
    if (this.fd >= 0) native.close(this.fd);
    this.watch = this.fd = -1;
    this.byWd.clear();
    this.byNode.clear();
    this.memory.clear();
    this.whenGone.clear();
  }

  private arm(): void {
    if (this.watch >= 0 || this.fd < 0) return;
    this.watch = native.watchFd(this.fd, () => {
      this.watch = -1;
      try {
        this.drain();
      } finally {
        if (this.byWd.size || this.whenGone.size) this.arm();
      }
    });
  }

  /** Reads what the Sentry's watches reported; queues it for the guest, or drops it (`deliver` false: the Sentry's own accesses). */
  drain(deliver = true): void {
    if (this.fd < 0 || !(this.byWd.size || this.whenGone.size)) return;
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(this.fd, this.buf);
      } catch {
        return;
      }
      for (let off = 0; off + 16 <= n; ) {
        const wd = this.buf.readInt32LE(off);
        const mask = this.buf.readUInt32LE(off + 4);
        off += 16 + this.buf.readUInt32LE(off + 12);
        if (mask & IN_IGNORED) {
          this.gone(wd);
          continue;
        }
        const d = this.byWd.peek(wd);
        if (d && deliver && mask & DATA_EVENTS) this.deliver(d, mask & DATA_EVENTS);
      }
    }
  }
}
