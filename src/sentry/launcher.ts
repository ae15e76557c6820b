// The Sentry's side of a launcher's control socket (native/launcher.c).
//
// Every wait for a message runs on the event loop, so tsvisor keeps handling
// its signals meanwhile, and lasts exactly as long as it must: it ends when
// the message comes, when the launcher dies (the error names the step and
// how it ended), when something else the sandbox needs dies (the Gofer), or
// when start-up is aborted. There is no clock: on a busy machine a slow
// launcher is waited for, a dead one is reported at once.
import { ERRNO, errnoName } from '../abi/errno.js';
import { native } from '../platform/native.js';
import { SandboxError } from './errors.js';
import { type Exit, describeExit } from './spec.js';

export class LauncherLink {
  private readonly buf = new Uint8Array(4096);
  private readonly fdsIn = new Int32Array(1);
  private name = '';
  private who = '';
  private ended: Exit | undefined;
  private exit!: Promise<Exit>;
  private dependencyEnd: string | undefined;

  /**
   * `name`, `pid`: the peer ("the launcher"); `exit`: resolves with its exit
   * status; `abort`: aborted (with the error to throw) to give up;
   * `dependency`: another process the sandbox needs ("the Gofer (pid N)"),
   * `ended` resolving with how it ended.
   */
  constructor(
    private readonly ctl: number,
    name: string,
    pid: number,
    exit: Promise<Exit>,
    private readonly abort?: AbortSignal,
    private readonly dependency?: { who: string; ended: Promise<string> },
  ) {
    this.follow(name, pid, exit);
    dependency?.ended.then((how) => (this.dependencyEnd = how));
  }

  /** From now on the peer is another process (OCI exec: the launcher's child takes over the socket). */
  follow(name: string, pid: number, exit: Promise<Exit>): void {
    this.name = name;
    this.who = `${name} (pid ${pid})`;
    this.ended = undefined;
    this.exit = exit;
    exit.then((e) => {
      if (this.exit === exit) this.ended = e;
    });
  }

  /**
   * Waits for the message `tag` while the peer is `doing` something (for
   * errors: "setting up the seccomp filter"); returns the int32 that follows
   * the tag (0 if none).
   */
  async expect(tag: string, doing: string): Promise<number> {
    for (;;) {
      this.abort?.throwIfAborted();
      const n = native.recvMsg(this.ctl, this.buf, this.fdsIn, 0);
      if (this.fdsIn[0]! >= 0) native.close(this.fdsIn[0]!);
      if (n > 0) {
        const got = String.fromCharCode(this.buf[0]!);
        if (got === 'E') throw new SandboxError(Buffer.from(this.buf.subarray(1, n)).toString());
        if (got !== tag) throw new SandboxError(`${this.who} broke the protocol: expected '${tag}', got '${got}' while ${doing}`);
        return n >= 5 ? Buffer.from(this.buf.buffer, 1, 4).readInt32LE(0) : 0;
      }
      if (n !== 0 && n !== -ERRNO.ETIMEDOUT) throw new SandboxError(`reading from ${this.who}: ${errnoName(n)}`);
      if (this.ended) throw new SandboxError(`${this.who} ${describeExit(this.ended)} while ${doing}`);
      if (this.dependencyEnd !== undefined) throw new SandboxError(`${this.dependency!.who} ${this.dependencyEnd} while ${this.name} was ${doing}`);
      // End of file: the peer is exiting; its status follows. Otherwise wait for anything to change.
      await this.change(n === 0);
    }
  }

  /** Sends a message; the peer may have died meanwhile (the next expect() says how). */
  send(msg: Uint8Array, what: string): void {
    const r = native.sendMsg(this.ctl, msg, msg.length, []);
    if (r < 0 && r !== -ERRNO.EPIPE && r !== -ERRNO.ECONNRESET) throw new SandboxError(`sending ${what} to ${this.who}: ${errnoName(r)}`);
  }

  /** Resolves when the socket is readable, the peer ended, the dependency ended or start-up was aborted. */
  private change(exitOnly: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      let watch = -1;
      const done = () => {
        if (watch >= 0) native.unwatchFd(watch);
        watch = -1;
        this.abort?.removeEventListener('abort', done);
        resolve();
      };
      if (!exitOnly) {
        watch = native.watchFd(this.ctl, () => {
          watch = -1;
          done();
        });
        if (watch < 0) return reject(new SandboxError(`cannot wait for ${this.who}: ${errnoName(watch)}`));
      }
      this.exit.then(done);
      this.dependency?.ended.then(done);
      this.abort?.addEventListener('abort', done, { once: true });
    });
  }
}
