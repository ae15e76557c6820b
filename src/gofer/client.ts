// The Sentry's side of the Gofer protocol (docs/gofer-protocol.md): one
// synchronous method per op. Host errors come back as a negative errno, never
// as an exception. If the Gofer dies or breaks the protocol the client marks
// itself dead (deathReason says why), closes its socket, and every later call
// returns -EIO.
//
// A call waits for its answer as long as the Gofer lives, however slow it is
// (a busy machine is no reason to fail file calls): liveness is the Gofer's
// process, watched through a pidfd, never a clock. A Gofer stopped forever
// (SIGSTOP from outside) therefore stalls the Sentry; a terminating signal to
// tsvisor still ends the wait (setInterrupt), and SIGKILL ends everything.
import fs from 'node:fs';
import { ERRNO, errnoName } from '../abi/errno.js';
import { MSG_CTRUNC } from '../abi/linux.js';
import { native } from '../platform/native.js';
import { GOFER_ENTRY } from '../paths.js';
import { describeExit } from '../sentry/spec.js';
import {
  MAX_FDS,
  MAX_WALK_NAMES,
  Op,
  OP_NAMES,
  ProtocolError,
  Reader,
  RECV_BUFFER,
  STATFS_FIELDS,
  WalkFlag,
  Writer,
} from './protocol.js';

const { EIO, EINVAL, E2BIG, ECONNRESET, ENFILE, EPIPE } = ERRNO;
const SOCK_SEQPACKET = 5;
/** How long a closed connection waits for the Gofer's exit status, to say how it ended. */
const GONE_WAIT_MS = 2000;

export interface WalkEntry {
  /** statx fields (layout of native.statxFd) of the component, not following a symlink */
  stat: Float64Array;
  /** O_PATH|O_NOFOLLOW fd (close-on-exec), or -1 for device nodes, which the Gofer never hands out */
  fd: number;
}
export interface WalkResult {
  entries: WalkEntry[];
  /** positive errno of the component after the last entry, or 0 */
  stopErrno: number;
}
export interface OpenResult {
  fd: number;
  created: boolean;
  stat: Float64Array;
}
export interface StatResult {
  stat: Float64Array;
}
export interface DeviceResult {
  fd: number;
  stat: Float64Array;
}

export interface GoferClientOptions {
  /** The Gofer's pid, for death reasons. */
  pid?: number;
  /** A pidfd of the Gofer (the client's from then on): its death ends a wait at once, with its exit status. */
  pidfd?: number;
}

/**
 * Something else a wait for the Gofer watches: when `fd` becomes readable,
 * or `wakeAfterMs()` (if >= 0) has passed, `abandon()` says whether to give
 * the wait up (and why), or to go on waiting.
 */
export interface WaitInterrupt {
  fd: number;
  wakeAfterMs?(): number;
  abandon(): string | undefined;
}

export class GoferClient {
  readonly pid: number | undefined;
  private readonly pidfd: number;
  private interrupt: WaitInterrupt | undefined;
  /** Why the client stopped working; undefined while it works. */
  deathReason: string | undefined;
  private sock: number;
  private seq = 0;
  private op = 0;
  private readonly w = new Writer();
  private readonly rbuf = new Uint8Array(RECV_BUFFER);
  private readonly r = new Reader(this.rbuf);
  private readonly fds = new Int32Array(MAX_FDS);
  private readonly msgFlags = new Int32Array(1);
  private nfds = 0;
  private fdsUsed = 0;

  constructor(sock: number, opts: GoferClientOptions = {}) {
    this.sock = sock;
    this.pid = opts.pid;
    this.pidfd = opts.pidfd ?? -1;
  }

  /** Also end waits for an answer when `i.fd` becomes readable and `i.abandon()` says so. */
  setInterrupt(i: WaitInterrupt | undefined): void {
    this.interrupt = i;
  }

  /** SIGKILLs the Gofer (through its pidfd: its pid may belong to another process once it was reaped). */
  kill(): void {
    if (this.pidfd >= 0) native.pidfdSendSignal(this.pidfd, 9);
  }

  /** Resolves once the Gofer process has ended (at once without a pidfd). */
  exited(): Promise<void> {
    if (this.pidfd < 0) return Promise.resolve();
    return new Promise((resolve) => {
      if (native.watchFd(this.pidfd, () => resolve()) < 0) resolve();
    });
  }

  /**
   * The Gofer closed its socket: it exits, or has. Says how it ended once it
   * has (waiting for that: the socket closes first, and on a loaded machine
   * the rest of a Node process's exit took more than 200 ms), for the reason.
   */
  private gone(when: string): void {
    let how = 'closed the connection (it exited or was killed)';
    if (this.pidfd >= 0) {
      native.pollFds([this.pidfd], GONE_WAIT_MS);
      const st = new Int32Array(2);
      // st = [si_code, si_status]; CLD_EXITED is 1, the others are deaths by a signal.
      if (native.pidfdStatus(this.pidfd, this.pid ?? -1, st) === 1) how = describeExit(st[0] === 1 ? { status: st[1]!, code: st[1]! } : { status: 128 + st[1]!, signal: st[1]! });
    }
    this.die(`${this.who()} ${how} ${when}`);
  }

  get dead(): boolean {
    return this.deathReason !== undefined;
  }

  /** Why the Gofer failed, if it did: not when the client closed or gave a wait up itself. */
  get failure(): string | undefined {
    return this.closedHere ? undefined : this.deathReason;
  }
  private closedHere = false;

  /** Closes the connection; the Gofer exits when it sees it closed. */
  close(): void {
    if (this.deathReason !== undefined) return;
    this.die('closed by the client');
    this.closedHere = true;
  }

  private die(reason: string): void {
    if (this.deathReason !== undefined) return;
    this.deathReason = reason;
    native.close(this.sock);
    this.sock = -1;
  }

  private who(): string {
    return this.pid === undefined ? 'the Gofer' : `the Gofer (pid ${this.pid})`;
  }

  // ---- transport ---------------------------------------------------------------

  private begin(op: number): Writer {
    this.op = op;
    this.seq = (this.seq + 1) >>> 0;
    return this.w.reset().u8(op).u32(this.seq);
  }

  /**
   * Sends the request in this.w and waits for its response. Returns the
   * result (>= 0, with this.r positioned at the op results and this.fds
   * holding the received fds) or a negative errno.
   */
  private call(): number {
    if (this.deathReason !== undefined) return -EIO;
    const name = OP_NAMES[this.op] ?? `op ${this.op}`;
    // Wake the Gofer on this CPU: same-CPU hand-offs are ~15x faster here.
    if (this.pid !== undefined) native.keepOnMyCpu(this.pid);
    const s = native.sendMsg(this.sock, this.w.buf, this.w.pos, []);
    if (s < 0) {
      if (s === -EPIPE || s === -ECONNRESET) this.gone(`before ${name}`);
      else this.die(`cannot send ${name} to ${this.who()}: ${errnoName(s)}`);
      return -EIO;
    }
    const n = this.receive(name);
    if (n === ABANDONED) return -EIO;
    this.nfds = 0;
    this.fdsUsed = 0;
    while (this.nfds < this.fds.length && this.fds[this.nfds]! >= 0) this.nfds++;
    if (n <= 0 || n < 8) {
      this.closeUnusedFds();
      if (n === 0 || n === -ECONNRESET) this.gone(`during ${name}`);
      else if (n < 0) this.die(`receiving the ${name} answer from ${this.who()} failed: ${errnoName(n)}`);
      else this.die(`${this.who()} sent a ${n}-byte answer to ${name}`);
      return -EIO;
    }
    this.r.reset(n);
    const seq = this.r.u32();
    const result = this.r.i32();
    if (seq !== this.seq) {
      this.closeUnusedFds();
      this.die(`${this.who()} answered request ${seq} instead of ${this.seq} (${name})`);
      return -EIO;
    }
    if (result < 0) this.closeUnusedFds();
    if (result >= 0 && this.msgFlags[0]! & MSG_CTRUNC) {
      // The Sentry had no free fd for what the Gofer sent: this one request
      // fails as a full file table would; the link is fine.
      this.closeUnusedFds();
      return -ENFILE;
    }
    return result;
  }

  /**
   * Waits for the answer as long as the Gofer lives, then receives it: its
   * length, 0 if the Gofer closed the socket, a negative errno, or ABANDONED
   * (the client is dead then).
   */
  private receive(name: string): number {
    const fds = this.pidfd >= 0 ? [this.sock, this.pidfd] : [this.sock];
    for (;;) {
      const i = this.interrupt;
      const ready = native.pollFds(i ? [...fds, i.fd] : fds, i?.wakeAfterMs?.() ?? -1);
      if (ready < 0) return ready;
      // The socket first: an exiting Gofer's socket is closed before its
      // pidfd becomes readable, and an answer it sent before stays queued.
      if (ready & 1) return native.recvMsg(this.sock, this.rbuf, this.fds, -1, this.msgFlags);
      if (fds.length === 2 && ready & 2) {
        const n = native.recvMsg(this.sock, this.rbuf, this.fds, 0, this.msgFlags);
        return n === -ERRNO.ETIMEDOUT ? 0 : n;
      }
      const why = i?.abandon();
      if (why !== undefined) {
        this.die(`${this.who()} had not answered ${name} when ${why}`);
        this.closedHere = true;
        return ABANDONED;
      }
    }
  }

  /** The next received fd, or throws if the response carried too few. */
  private takeFd(): number {
    if (this.fdsUsed >= this.nfds) throw new ProtocolError('missing fd');
    return this.fds[this.fdsUsed++]!;
  }

  private closeUnusedFds(): void {
    for (let i = this.fdsUsed; i < this.nfds; i++) native.close(this.fds[i]!);
    this.fdsUsed = this.nfds;
  }

  /** Runs parse on a successful response; a malformed one kills the client. */
  private finish<T>(result: number, parse: (r: Reader, result: number) => T): T | number {
    if (result < 0) return result;
    try {
      const v = parse(this.r, result);
      this.r.end();
      if (this.fdsUsed !== this.nfds) throw new ProtocolError('unexpected fds');
      return v;
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      for (let i = 0; i < this.nfds; i++) native.close(this.fds[i]!);
      this.fdsUsed = this.nfds;
      this.die(`${this.who()} sent a malformed ${OP_NAMES[this.op]} answer: ${e.message}`);
      return -EIO;
    }
  }

  /** Encodes with enc; a request that does not fit is -E2BIG, a non-latin1 string -EINVAL. */
  private request(op: number, enc: (w: Writer) => void): number {
    if (this.deathReason !== undefined) return -EIO;
    try {
      enc(this.begin(op));
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      return e.message === 'message too large' ? -E2BIG : -EINVAL;
    }
    return this.call();
  }

  private statOnly(result: number): StatResult | number {
    return this.finish(result, (r) => ({ stat: r.stat() }));
  }

  // ---- ops -----------------------------------------------------------------------

  /** 0 if the Gofer answers. */
  ping(): number {
    return this.finish(this.request(Op.PING, () => {}), () => 0);
  }

  /**
   * Looks up names one after the other beneath dirPath, returning an entry
   * (lstat fields and an O_PATH fd) per component found. Stops after a
   * missing component (stopErrno), a non-directory or a symlink (included).
   */
  walk(exportId: number, dirPath: string, names: readonly string[]): WalkResult | number {
    if (names.length > MAX_WALK_NAMES) return -EINVAL;
    const res = this.request(Op.WALK, (w) => {
      w.u32(exportId).str(dirPath).u32(names.length);
      for (const n of names) w.str(n);
    });
    return this.finish(res, (r) => {
      const count = r.u32();
      const stopErrno = r.i32();
      if (count > names.length) throw new ProtocolError('too many entries');
      const entries: WalkEntry[] = [];
      for (let i = 0; i < count; i++) {
        const flags = r.u8();
        const stat = r.stat();
        const e: WalkEntry = { stat, fd: -1 };
        if (flags & WalkFlag.HAS_FD) e.fd = this.takeFd();
        entries.push(e);
      }
      return { entries, stopErrno };
    });
  }

  /** Opens (or creates, with O_CREAT) path; mode already has the umask applied. */
  open(exportId: number, path: string, flags: number, mode: number, uid: number, gid: number): OpenResult | number {
    const res = this.request(Op.OPEN, (w) => w.u32(exportId).str(path).u32(flags).u32(mode).u32(uid).u32(gid));
    return this.finish(res, (r) => {
      const created = r.u8() !== 0;
      const stat = r.stat();
      return { fd: this.takeFd(), created, stat };
    });
  }

  mkdir(exportId: number, path: string, mode: number, uid: number, gid: number): StatResult | number {
    return this.statOnly(this.request(Op.MKDIR, (w) => w.u32(exportId).str(path).u32(mode).u32(uid).u32(gid)));
  }

  /** Regular files, FIFOs and sockets only (others: -EPERM). */
  mknod(exportId: number, path: string, mode: number, uid: number, gid: number): StatResult | number {
    return this.statOnly(this.request(Op.MKNOD, (w) => w.u32(exportId).str(path).u32(mode).u32(uid).u32(gid)));
  }

  symlink(exportId: number, path: string, target: string, uid: number, gid: number): StatResult | number {
    return this.statOnly(this.request(Op.SYMLINK, (w) => w.u32(exportId).str(path).str(target).u32(uid).u32(gid)));
  }

  /** Hard link; the stat is the new link's. */
  link(exportId: number, oldPath: string, newPath: string): StatResult | number {
    return this.statOnly(this.request(Op.LINK, (w) => w.u32(exportId).str(oldPath).str(newPath)));
  }

  unlink(exportId: number, path: string, removeDir: boolean): number {
    return this.finish(this.request(Op.UNLINK, (w) => w.u32(exportId).str(path).u8(removeDir ? 1 : 0)), () => 0);
  }

  /** renameat2 within one export; flags are RENAME_*. */
  rename(exportId: number, oldPath: string, newPath: string, flags: number): number {
    return this.finish(this.request(Op.RENAME, (w) => w.u32(exportId).str(oldPath).str(newPath).u32(flags)), () => 0);
  }

  /**
   * Changes the attributes selected by mask (SetattrMask bits) without
   * following a final symlink; uid/gid -1 leave that id unchanged; nsec may
   * be UTIME_NOW or UTIME_OMIT. Returns the fresh statx fields.
   */
  setattr(
    exportId: number,
    path: string,
    mask: number,
    mode: number,
    uid: number,
    gid: number,
    size: number,
    atimeSec: number,
    atimeNsec: number,
    mtimeSec: number,
    mtimeNsec: number,
  ): StatResult | number {
    const res = this.request(Op.SETATTR, (w) =>
      w
        .u32(exportId)
        .str(path)
        .u32(mask)
        .u32(mode)
        .u32(uid)
        .u32(gid)
        .i64(size)
        .i64(atimeSec)
        .u32(atimeNsec)
        .i64(mtimeSec)
        .u32(mtimeNsec),
    );
    return this.statOnly(res);
  }

  readlink(exportId: number, path: string): string | number {
    return this.finish(this.request(Op.READLINK, (w) => w.u32(exportId).str(path)), (r) => r.str());
  }

  /** size 0: the value's size; otherwise the value (ERANGE if larger than size). */
  getxattr(exportId: number, path: string, name: string, size: number): Buffer | number {
    const res = this.request(Op.GETXATTR, (w) => w.u32(exportId).str(path).str(name).u32(size));
    return this.xattrResult(res, size);
  }

  /** size 0: the list's size; otherwise the NUL-separated names. */
  listxattr(exportId: number, path: string, size: number): Buffer | number {
    const res = this.request(Op.LISTXATTR, (w) => w.u32(exportId).str(path).u32(size));
    return this.xattrResult(res, size);
  }

  private xattrResult(res: number, size: number): Buffer | number {
    return this.finish(res, (r, n): Buffer | number => {
      const b = r.bytes();
      if (size === 0) return n;
      if (b.length !== n) throw new ProtocolError('xattr length mismatch');
      return Buffer.from(b.buffer, b.byteOffset, b.length);
    });
  }

  /** flags: XATTR_CREATE (1) / XATTR_REPLACE (2). */
  setxattr(exportId: number, path: string, name: string, value: Uint8Array, flags: number): number {
    const res = this.request(Op.SETXATTR, (w) => w.u32(exportId).str(path).str(name).bytes(value).u32(flags));
    return this.finish(res, () => 0);
  }

  removexattr(exportId: number, path: string, name: string): number {
    return this.finish(this.request(Op.REMOVEXATTR, (w) => w.u32(exportId).str(path).str(name)), () => 0);
  }

  /** [type, bsize, blocks, bfree, bavail, files, ffree, fsid0, fsid1, namelen, frsize, flags] */
  statfs(exportId: number, path: string): Float64Array | number {
    return this.finish(this.request(Op.STATFS, (w) => w.u32(exportId).str(path)), (r) => r.f64s(STATFS_FIELDS));
  }

  /** Opens an allowlisted device: null, zero, full, random, urandom, ptmx, pts/N, or a host device the container was given (by name under /dev). */
  device(name: string, flags: number): DeviceResult | number {
    const res = this.request(Op.DEVICE, (w) => w.str(name).u32(flags));
    return this.finish(res, (r) => {
      const stat = r.stat();
      return { fd: this.takeFd(), stat };
    });
  }
}


/** receive()'s result when an interrupt ended the wait. */
const ABANDONED = -0x10000;

export interface GoferExport {
  id: number;
  mode: 'ro' | 'rw';
  hostPath: string;
}

/** A host character device the container was given (OCI linux.devices): its name under /dev and its number. */
export interface GoferDevice {
  name: string;
  major: number;
  minor: number;
}

/** A Gofer started before its exports were known (startGofer); serve() hands them over. */
export interface StartedGofer {
  readonly pid: number;
  serve(exports: readonly GoferExport[], devices: readonly GoferDevice[]): { pid: number; client: GoferClient };
  /** Stops it, when the sandbox will not be made after all. */
  kill(): void;
}

/** `keepStderr`: the Gofer's fatal messages go to the caller's stderr; otherwise nowhere (its exit status still tells). */
function launchGofer(exportArgs: string[], keepStderr: boolean): { pid: number; pidfd: number; sock: number } {
  const pair = native.socketpair(SOCK_SEQPACKET);
  if (typeof pair === 'number') throw new Error(`socketpair: ${errnoName(pair)}`);
  const [ours, theirs] = pair;
  // The Gofer reads and writes nothing on stdio: it must not hold the
  // caller's (a container's output, or pipes a client reads to their end).
  const devNull = fs.openSync('/dev/null', 'r+');
  // A session of its own: no terminal or process-group signal meant for the
  // caller or the guest ever reaches the Gofer; it lives and dies with the Sentry.
  const pid = native.spawn(process.execPath, [process.execPath, GOFER_ENTRY, '--sock', '3', ...exportArgs], [], [devNull, 0, devNull, 1, keepStderr ? 2 : devNull, 2, theirs, 3], true);
  fs.closeSync(devNull);
  native.close(theirs);
  if (pid < 0) {
    native.close(ours);
    throw new Error(`cannot start the Gofer: ${errnoName(pid)}`);
  }
  // Nothing reaps it before this (the Sentry's waiter starts later), so the pid is still its own.
  const pidfd = native.pidfdOpen(pid, 0);
  if (pidfd < 0) {
    native.close(ours);
    throw new Error(`cannot watch the Gofer: ${errnoName(pidfd)}`);
  }
  return { pid, pidfd, sock: ours };
}

const exportArg = (e: GoferExport) => `${e.id}:${e.mode}:${e.hostPath}`;
const deviceArg = (d: GoferDevice) => `${d.major}:${d.minor}:${d.name}`;

/**
 * Starts a Gofer serving exports over a new SOCK_SEQPACKET socketpair. The
 * caller reaps the pid (the Sentry's waiter thread does).
 */
export function spawnGofer(exports: readonly GoferExport[], devices: readonly GoferDevice[] = []): { pid: number; client: GoferClient } {
  const { pid, pidfd, sock } = launchGofer(
    [...exports.flatMap((e) => ['--export', exportArg(e)]), ...devices.flatMap((d) => ['--device', deviceArg(d)])],
    true,
  );
  return { pid, client: new GoferClient(sock, { pid, pidfd }) };
}

/**
 * Starts a Gofer now and gives it its exports later: its Node start-up
 * (~90 ms) then overlaps with the caller's own loading and configuration.
 */
export function startGofer(): StartedGofer {
  // For an OCI container's sandbox process, whose stdio is the container's or
  // a client's that reads it to the end.
  const { pid, pidfd, sock } = launchGofer(['--exports-on-socket'], false);
  let served = false;
  return {
    pid,
    serve(exports, devices) {
      const msg = Buffer.from([...exports.map(exportArg), ...devices.map((d) => `dev:${deviceArg(d)}`)].join('\n'));
      if (native.sendMsg(sock, msg, msg.length, []) < 0) throw new Error('the Gofer went away before it was given its exports');
      served = true;
      return { pid, client: new GoferClient(sock, { pid, pidfd }) };
    },
    kill() {
      // Once served, the socket and the pidfd are the client's.
      native.pidfdSendSignal(pidfd, 9);
      if (!served) {
        native.close(sock);
        native.close(pidfd);
      }
    },
  };
}
