// Set-user-id and set-group-id exec, and file capabilities (docs/design.md,
// "Set-user-id and set-group-id files").
//
// Linux applies a file's set-id bits and capabilities only when the file's
// mount belongs to the exec'ing task's own mount namespace and is not
// nosuid, and set-id bits only for owners its user namespace maps. The guest's root view is nosuid and the
// files the Sentry hands to the kernel are on mounts of other namespaces, so
// a file that qualifies in the Sentry's view is exec'd as a copy kept in the
// launcher's set-id store: a tmpfs in the guest's mount namespace that no
// path reaches (native/launcher.c, make_setid_store), the copy owned by the
// owner's mapped host ids with the file's mode and capabilities. The kernel then raises the
// ids and capabilities itself, exactly as for the file on Linux, and applies
// its own conditions on top (no_new_privs, a sharing of fs state, a tracer
// without CAP_SYS_PTRACE over the guest's namespace).
import { ERRNO } from '../abi/errno.js';
import { AT_EMPTY_PATH, O_CLOEXEC, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY, RESOLVE_BENEATH, S_IFMT, S_IFREG, S_ISGID, S_ISUID, XATTR_SECURITY_CAPABILITY, execSetidBits } from '../abi/linux.js';
import { type LogFn, type Logger, rateLimited } from '../log.js';
import { STATX, STATX_FIELDS, native, statxIdentity } from '../platform/native.js';
import { hostIdOf } from './creds.js';
import { BoundedLru } from './lru.js';
import type { Task } from './task.js';
import type { Location } from './vfs/node.js';

/** The store's tmpfs size= (the launcher's --setid-store): the most memory the copies take. */
export const SETID_STORE_SIZE = 64 << 20;
/** The most copies kept; the least recently used goes first. */
export const SETID_STORE_COPIES = 32;

/** struct vfs_cap_data v3, the larger form */
const XATTR_CAPS_MAX = 24;

export class SetidStore {
  /** copy key -> file name in the store; iteration order is least recently used first */
  private readonly copies = new BoundedLru<string, string>(SETID_STORE_COPIES, (_key, name) => native.unlinkat(this.root, name, 0));
  private next = 0;
  private readonly before = new Float64Array(STATX_FIELDS);
  private readonly after = new Float64Array(STATX_FIELDS);
  private readonly capsBuf = new Uint8Array(XATTR_CAPS_MAX);
  /** a file the store cannot take: the guest can cause one per exec */
  private readonly warnNoCopy: LogFn;

  constructor(
    private readonly root: number,
    private readonly log: Logger,
  ) {
    this.warnNoCopy = rateLimited((f, m) => log.warn(f, m));
  }

  /**
   * The file to exec instead of `fd` (the checked executable `loc`, opened by
   * the Sentry) when Linux would apply its set-id bits or capabilities for task `t`: a
   * read-only fd of its copy, or null to exec `fd` as is (nothing to raise,
   * or a condition fails). Never raises what the Sentry's view does not
   * show at this stop: the copy's mode and owners are taken from that view,
   * and its content from `fd`, whose host stat must be the same before and
   * after the copy and must show the same set-id bits (a write to the file
   * clears them on the host, as Linux does).
   */
  execFile(t: Task, loc: Location, fd: number): number | null {
    if (loc.mount.opts.nosuid) return null;
    // The host file first, the cheapest answer for most files (bits and capabilities the Sentry's view
    // must show too). Read before the capabilities: a change to them moves ctime, compared after the copy.
    if (native.statxFd(fd, this.before) < 0 || (this.before[STATX.mode]! & S_IFMT) !== S_IFREG) return null;
    // The host file's own: a guest write clears it there, as Linux does.
    const capsLen = native.getxattrFd(fd, XATTR_SECURITY_CAPABILITY, this.capsBuf);
    const caps = capsLen > 0 ? this.capsBuf.slice(0, capsLen) : null;
    if (!caps && !execSetidBits(this.before[STATX.mode]!)) return null;
    const st = loc.dentry.node.stat();
    const bits = execSetidBits(st.mode);
    const setuid = (bits & S_ISUID) !== 0;
    const setgid = (bits & S_ISGID) !== 0;
    if ((st.mode & S_IFMT) !== S_IFREG) return null;
    if (!setuid && !setgid && !caps) return null;
    // Linux applies neither bit unless both owners are mapped (a host owner
    // the sandbox does not map is UNMAPPED_ID in the view, which maps to none).
    const hostUid = hostIdOf('uid', st.uid);
    const hostGid = hostIdOf('gid', st.gid);
    if (hostUid < 0 || hostGid < 0) return null;
    // An exec that would keep the ids anyway gives the same result without a copy.
    const c = t.creds;
    if (!caps && (!setuid || st.uid === c.euid) && (!setgid || st.gid === c.egid)) return null;
    // With no_new_privs Linux raises nothing (the kernel ignores the copy's bits as the original's; the
    // check only spares the copy); a file with capabilities still sets AT_SECURE, which the kernel decides on the copy.
    if (!caps && c.noNewPrivs) return null;
    if ((this.before[STATX.mode]! & bits) !== bits) return null;
    const key = `${statxIdentity(this.before)}/${hostUid}:${hostGid}:${st.mode & 0o7777}:${caps ? Buffer.from(caps).toString('hex') : ''}`;
    const held = this.copies.get(key);
    if (held !== undefined) {
      const r = native.openat2(this.root, held, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0, RESOLVE_BENEATH);
      if (r >= 0) return r;
      this.copies.delete(key);
      native.unlinkat(this.root, held, 0);
    }
    const name = this.copy(fd, hostUid, hostGid, st.mode & 0o7777, caps);
    if (name === null) return null;
    if (native.statxFd(fd, this.after) < 0 || statxIdentity(this.after) !== statxIdentity(this.before)) {
      // Changed while copied: what was checked is not what was copied.
      native.unlinkat(this.root, name, 0);
      return null;
    }
    const r = native.openat2(this.root, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0, RESOLVE_BENEATH);
    if (r < 0) {
      native.unlinkat(this.root, name, 0);
      return null;
    }
    this.copies.set(key, name);
    this.log.debug({ tid: t.tid, uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }, 'set-id exec through a copy');
    return r;
  }

  /** Copies `src` into the store as a new file with the given owners, mode and capabilities: its name, or null. */
  private copy(src: number, hostUid: number, hostGid: number, mode: number, caps: Uint8Array | null): string | null {
    while (this.copies.size >= SETID_STORE_COPIES) this.copies.evictOldest();
    for (;;) {
      const name = String(this.next++);
      const w = native.openat2(this.root, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o700, RESOLVE_BENEATH);
      if (w < 0) return null;
      const n = native.copyFile(w, src);
      // Owner first: a change of owner clears set-id bits and capabilities.
      const ok =
        n === this.before[STATX.size] &&
        native.fchownat(w, '', hostUid, hostGid, AT_EMPTY_PATH) === 0 &&
        native.fchmod(w, mode) === 0 &&
        (!caps || native.setxattrFd(w, XATTR_SECURITY_CAPABILITY, caps, 0) === 0);
      native.close(w);
      if (ok) return name;
      native.unlinkat(this.root, name, 0);
      // Full: room is made from the least recently used copies (those still running keep theirs).
      if (n !== -ERRNO.ENOSPC || this.copies.size === 0) {
        this.warnNoCopy({ size: this.before[STATX.size], errno: n < 0 ? -n : 0 }, 'set-id exec without a rise: the file could not be copied to the set-id store');
        return null;
      }
      this.copies.evictOldest();
    }
  }
}
