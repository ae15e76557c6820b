// The per-test marker channel (SandboxSpec.testChannel; docs/testrun.md,
// "The per-test channel"). The Sentry holds a host pipe; each open of the
// channel's node installs in the guest a new write end of it (vfs/devfs.ts).
// A test runner writes one JSON line per marker, in one write() of at most
// LINE_MAX bytes (PIPE_BUF: the kernel keeps such a write whole among
// concurrent writers). The Sentry reads the pipe on its event loop and, so
// that a marker comes before anything its writer did next, also drains it
// before it delivers any other access event (drainFirst): the writer's
// write() had returned before its next trapped call reached the Sentry.
//
// What the guest writes only ever becomes markers: a line that is not a
// marker, or is longer than LINE_MAX, is dropped and counted. The pipe is the
// kernel's and bounded (a writer that floods it blocks, as on any pipe); the
// Sentry keeps at most one partial line.
import fs from 'node:fs';
import { O_CLOEXEC, O_NONBLOCK, O_WRONLY } from '../abi/linux.js';
import type { Logger } from '../log.js';
import { native } from '../platform/native.js';
import { SandboxError, ownFd } from './errors.js';
import type { AccessEvents, TestMarker } from './spec.js';

/** A marker line at most, its newline included: PIPE_BUF, so one write() of it is atomic. */
export const LINE_MAX = 4096;
/** Bytes read at once. */
const CHUNK = 64 << 10;
/**
 * Reads one drain makes at most: more than a pipe can hold (a guest may
 * grow its pipe to /proc/sys/fs/pipe-max-size, 1 MiB by default, not past
 * it without CAP_SYS_RESOURCE on the host), so what was written before the
 * drain began is read, while a writer that keeps the pipe full cannot hold
 * the Sentry in the loop.
 */
const DRAIN_READS_MAX = 32;

export class TestChannel {
  private readonly readEnd: number;
  /** held so the pipe never reports end of file (a pipe without writers polls readable forever) */
  private readonly writeEnd: number;
  private readonly buf = Buffer.alloc(CHUNK);
  /** the start of a line whose newline has not come yet (at most LINE_MAX bytes) */
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** the line being read is already longer than LINE_MAX: skipped up to its newline */
  private overlong = false;
  private watch = -1;
  private closed = false;
  markers = 0;
  malformed = 0;

  constructor(
    private readonly log: Logger,
    private readonly deliver: (m: TestMarker) => void,
  ) {
    const p = native.pipe(O_CLOEXEC | O_NONBLOCK);
    if (typeof p === 'number') throw new SandboxError(`cannot make the test channel: errno ${-p}`);
    [this.readEnd, this.writeEnd] = p;
    this.arm();
  }

  /** A write end for a guest's open: a new open of the pipe, so its file status flags (O_NONBLOCK) are its own. */
  openWriter(flags: number): number {
    return ownFd(native.reopen(this.readEnd, O_WRONLY | (flags & O_NONBLOCK) | O_CLOEXEC));
  }

  /** Reads what the pipe holds and delivers the markers it completes. */
  drain(): void {
    if (this.closed) return;
    for (let i = 0; i < DRAIN_READS_MAX; i++) {
      if (native.pollFds([this.readEnd], 0) <= 0) return;
      let n: number;
      try {
        n = fs.readSync(this.readEnd, this.buf, 0, CHUNK, null);
      } catch {
        return; // EAGAIN: another drain took it
      }
      this.feed(this.buf.subarray(0, n));
      if (n < CHUNK) return;
    }
  }

  /** Reads what is left, then lets the pipe go. */
  close(): void {
    if (this.closed) return;
    this.drain();
    this.closed = true;
    if (this.watch >= 0) native.unwatchFd(this.watch);
    native.close(this.readEnd);
    native.close(this.writeEnd);
    this.log.info({ markers: this.markers, malformed: this.malformed }, 'test channel closed (malformed: lines ignored)');
  }

  private arm(): void {
    this.watch = native.watchFd(this.readEnd, () => {
      this.watch = -1;
      if (this.closed) return;
      this.drain();
      this.arm();
    });
    if (this.watch < 0) throw new SandboxError(`cannot watch the test channel: errno ${-this.watch}`);
  }

  private feed(data: Buffer): void {
    let start = 0;
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
      this.endLine(data.subarray(start, nl));
      start = nl + 1;
    }
    const rest = data.subarray(start);
    if (!rest.length || this.overlong) return;
    if (this.partialLength + rest.length >= LINE_MAX) {
      this.overlong = true;
      this.partial = [];
      this.partialLength = 0;
      return;
    }
    this.partial.push(Buffer.from(rest));
    this.partialLength += rest.length;
  }

  private endLine(tail: Buffer): void {
    if (this.overlong) {
      this.overlong = false;
      this.malformed++;
      return;
    }
    const line = this.partialLength ? Buffer.concat([...this.partial, tail]) : tail;
    this.partial = [];
    this.partialLength = 0;
    if (!line.length) return;
    const m = line.length < LINE_MAX ? parseMarker(line) : null;
    if (!m) {
      this.malformed++;
      return;
    }
    this.markers++;
    this.deliver(m);
  }
}

/** A marker from a line of JSON, built afresh from its known fields; null when the line is not one. */
function parseMarker(line: Buffer): TestMarker | null {
  let v: unknown;
  try {
    v = JSON.parse(line.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const { event, pid, test, result } = v as Record<string, unknown>;
  if (event !== 'begin' && event !== 'end') return null;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return null;
  if (typeof test !== 'string') return null;
  if (result !== undefined && typeof result !== 'string') return null;
  return result === undefined ? { event, pid, test } : { event, pid, test, result };
}

/** `access` with `drain` (the channel's) run before each event, so markers come before what their writers did next. */
export function drainFirst(access: AccessEvents, drain: () => void): AccessEvents {
  return {
    onFileAccess: (...a) => (drain(), access.onFileAccess(...a)),
    onNetwork: (...a) => (drain(), access.onNetwork(...a)),
    onDenied: (...a) => (drain(), access.onDenied(...a)),
    onTestMarker: (...a) => access.onTestMarker(...a),
    onProcessStart: (...a) => (drain(), access.onProcessStart(...a)),
    onProcessExec: (...a) => (drain(), access.onProcessExec(...a)),
    onProcessExit: (...a) => (drain(), access.onProcessExit(...a)),
    onCommandExit: (...a) => (drain(), access.onCommandExit(...a)),
  };
}
