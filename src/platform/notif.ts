// The seccomp notification channel: one shared buffer (layout in
// native/notif.cc) carries each notification in and its reply out, so the
// hot path allocates nothing.
import { native } from './native.js';

const LAYOUT_SIZE = 160;

/** Handler result meaning "let the host kernel run the call" (SECCOMP_USER_NOTIF_FLAG_CONTINUE). */
export const CONTINUE = -0x1000001;
/** Handler result meaning "already answered" (ADDFD with SEND) or "answered later". */
export const REPLIED = -0x1000002;

/** The current notification's arguments. */
export class SyscallArgs {
  constructor(private readonly ch: NotifyChannel) {}
  /** host tid of the caller */
  get tid(): number {
    return this.ch.i32[2]!;
  }
  get nr(): number {
    return this.ch.i32[3]!;
  }
  /** argument as a signed 32-bit int (fds, flags, modes) */
  int(i: number): number {
    return this.ch.i32[20 + i]!;
  }
  /** argument as an unsigned 32-bit value */
  u32(i: number): number {
    return this.ch.i32[20 + i]! >>> 0;
  }
  /** argument as a 64-bit value (pointers, sizes, offsets); exact below 2^53 */
  long(i: number): number {
    return this.ch.f64[4 + i]!;
  }
  /** argument as a signed 64-bit value (offsets); exact within ±2^53 */
  slong(i: number): number {
    return (this.ch.u32[26 + i]! | 0) * 2 ** 32 + (this.ch.i32[20 + i]! >>> 0);
  }
  /** high 32 bits of an argument */
  hi(i: number): number {
    return this.ch.u32[26 + i]!;
  }
  /** the notification id, for ADDFD and deferred replies */
  get id(): bigint {
    return this.ch.id[0]!;
  }
}

export class NotifyChannel {
  readonly buf = new ArrayBuffer(LAYOUT_SIZE);
  readonly f64 = new Float64Array(this.buf);
  readonly i32 = new Int32Array(this.buf);
  readonly u32 = new Uint32Array(this.buf);
  readonly id = new BigUint64Array(this.buf, 0, 1);
  readonly args = new SyscallArgs(this);

  constructor(readonly fd: number) {}

  start(onNotif: () => void, onClose: () => void): void {
    const r = native.notifStart(this.fd, this.buf, onNotif, onClose);
    if (r < 0) throw new Error(`cannot watch the seccomp listener: errno ${-r}`);
    // Same-CPU hand-off between guest and Sentry (kernel >= 6.6): ~2.5 us
    // per trap instead of ~20 us for a cross-CPU wake-up (measured here).
    native.notifSetSyncWakeup(this.fd);
  }

  stop(): void {
    native.notifStop(this.fd);
  }

  /** Encodes a handler result as the reply the C side sends. */
  setReply(r: number): void {
    const i32 = this.i32;
    if (r === REPLIED) {
      i32[36] = 1;
      return;
    }
    i32[36] = 0;
    if (r === CONTINUE) {
      this.f64[16] = 0;
      i32[34] = 0;
      i32[35] = 1;
    } else if (r < 0) {
      this.f64[16] = 0;
      i32[34] = -r;
      i32[35] = 0;
    } else {
      this.f64[16] = r;
      i32[34] = 0;
      i32[35] = 0;
    }
  }

  /** Answers a deferred notification. */
  replyLater(id: bigint, r: number): void {
    if (r < 0) native.notifSend(this.fd, id, 0, -r, 0);
    else native.notifSend(this.fd, id, r, 0, 0);
  }

  /** The notification is still pending (its task has not died since). */
  valid(id: bigint): boolean {
    return native.notifIdValid(this.fd, id) === 0;
  }
}
