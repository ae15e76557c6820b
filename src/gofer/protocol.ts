// The Sentry <-> Gofer wire protocol (docs/gofer-protocol.md): op numbers,
// limits, the Linux constants both sides need, and a small binary codec over
// reusable buffers. Every message is one SOCK_SEQPACKET datagram, little-endian.
//
//   request : u8 op, u32 seq, op fields
//   response: u32 seq, i32 result (>= 0 success, else -errno), op results
//
// Strings are u32 length + latin1 bytes (every byte of a host path survives);
// byte blobs are u32 length + bytes; a "stat" is STATX_FIELDS f64 values in
// the order of native.statxFd; i64 values are two's-complement little-endian
// (exact for JS safe integers).
import { STATX_FIELDS } from '../platform/native.js';

export const Op = {
  PING: 1,
  WALK: 2,
  OPEN: 3,
  MKDIR: 4,
  MKNOD: 5,
  SYMLINK: 6,
  LINK: 7,
  UNLINK: 8,
  RENAME: 9,
  SETATTR: 10,
  READLINK: 11,
  GETXATTR: 12,
  LISTXATTR: 13,
  SETXATTR: 14,
  REMOVEXATTR: 15,
  STATFS: 16,
  DEVICE: 17,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

/** Printable op names, for error messages. */
export const OP_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(Op).map(([k, v]) => [v, k]),
);

/** Largest datagram either side sends ("under 64 KiB"). */
export const MAX_MESSAGE = 65535;
/** Receive buffers are one byte larger so an oversized datagram is detected. */
export const RECV_BUFFER = MAX_MESSAGE + 1;
/** At most this many names per WALK (and so at most this many fds per response). */
export const MAX_WALK_NAMES = 64;
export const MAX_FDS = MAX_WALK_NAMES;
/** Largest xattr value or list carried in one message. */
export const MAX_XATTR_BYTES = MAX_MESSAGE - 1024;
/** Longest path accepted (PATH_MAX including the NUL). */
export const MAX_PATH = 4095;
/** Number of f64 values in a STATFS result (layout of native.fstatfsFd). */
export const STATFS_FIELDS = 12;
export const STAT_BYTES = STATX_FIELDS * 8;

/** SETATTR mask bits. */
export const SetattrMask = { MODE: 1, UID: 2, GID: 4, SIZE: 8, ATIME: 16, MTIME: 32 } as const;
export { UTIME_NOW, UTIME_OMIT } from '../abi/linux.js';

/** WALK entry flag bits. */
export const WalkFlag = { HAS_FD: 1 } as const;

/** Thrown by the codec on a malformed or oversized message. */
export class ProtocolError extends Error {}

const TWO32 = 0x1_0000_0000;
const NON_LATIN1 = /[^\x00-\xff]/;

/** Appends fields to a reusable buffer. Throws ProtocolError when full. */
export class Writer {
  readonly buf: Uint8Array;
  private readonly view: DataView;
  private readonly bytesView: Buffer;
  pos = 0;

  constructor(size = MAX_MESSAGE) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
    this.bytesView = Buffer.from(this.buf.buffer, 0, size);
  }

  reset(): this {
    this.pos = 0;
    return this;
  }

  private need(n: number): number {
    const p = this.pos;
    if (p + n > this.buf.length) throw new ProtocolError('message too large');
    this.pos = p + n;
    return p;
  }

  u8(v: number): this {
    this.buf[this.need(1)] = v;
    return this;
  }
  u32(v: number): this {
    this.view.setUint32(this.need(4), v >>> 0, true);
    return this;
  }
  i32(v: number): this {
    this.view.setInt32(this.need(4), v | 0, true);
    return this;
  }
  i64(v: number): this {
    if (!Number.isSafeInteger(v)) throw new ProtocolError(`not a safe integer: ${v}`);
    const hi = Math.floor(v / TWO32);
    const p = this.need(8);
    this.view.setUint32(p, v - hi * TWO32, true);
    this.view.setInt32(p + 4, hi, true);
    return this;
  }
  f64(v: number): this {
    this.view.setFloat64(this.need(8), v, true);
    return this;
  }
  /** Overwrite a u32 written earlier at byte offset at. */
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }
  /** Overwrite an i32 written earlier at byte offset at. */
  patchI32(at: number, v: number): void {
    this.view.setInt32(at, v | 0, true);
  }
  /** u32 length + latin1 bytes; a character above U+00FF is an error. */
  str(s: string): this {
    if (NON_LATIN1.test(s)) throw new ProtocolError('string is not latin1');
    this.u32(s.length);
    const p = this.need(s.length);
    if (s.length) this.bytesView.write(s, p, s.length, 'latin1');
    return this;
  }
  /** u32 length + bytes. */
  bytes(b: Uint8Array): this {
    if (b.length > MAX_MESSAGE) throw new ProtocolError('message too large');
    this.u32(b.length);
    this.buf.set(b, this.need(b.length));
    return this;
  }
  /** STATX_FIELDS f64 values. */
  stat(a: Float64Array): this {
    const p = this.need(STAT_BYTES);
    for (let i = 0; i < STATX_FIELDS; i++) this.view.setFloat64(p + i * 8, a[i]!, true);
    return this;
  }
  /** n f64 values from a (statfs results). */
  f64s(a: Float64Array, n: number): this {
    const p = this.need(n * 8);
    for (let i = 0; i < n; i++) this.view.setFloat64(p + i * 8, a[i]!, true);
    return this;
  }
}

/** Reads fields from a received datagram. Throws ProtocolError past the end. */
export class Reader {
  readonly buf: Uint8Array;
  private readonly view: DataView;
  private readonly bytesView: Buffer;
  pos = 0;
  len = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.bytesView = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Start reading a datagram of len bytes held in buf. */
  reset(len: number): this {
    this.pos = 0;
    this.len = len;
    return this;
  }

  get remaining(): number {
    return this.len - this.pos;
  }

  private take(n: number): number {
    const p = this.pos;
    if (n < 0 || p + n > this.len) throw new ProtocolError('message truncated');
    this.pos = p + n;
    return p;
  }

  u8(): number {
    return this.buf[this.take(1)]!;
  }
  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.take(4), true);
  }
  i64(): number {
    const p = this.take(8);
    const v = this.view.getInt32(p + 4, true) * TWO32 + this.view.getUint32(p, true);
    if (!Number.isSafeInteger(v)) throw new ProtocolError('i64 out of range');
    return v;
  }
  f64(): number {
    return this.view.getFloat64(this.take(8), true);
  }
  str(): string {
    const n = this.u32();
    const p = this.take(n);
    return n ? this.bytesView.toString('latin1', p, p + n) : '';
  }
  /** A copy of a u32-length-prefixed blob. */
  bytes(): Uint8Array {
    const n = this.u32();
    const p = this.take(n);
    return this.buf.slice(p, p + n);
  }
  /** A fresh Float64Array(STATX_FIELDS). */
  stat(): Float64Array {
    return this.f64s(STATX_FIELDS);
  }
  f64s(n: number): Float64Array {
    const p = this.take(n * 8);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.view.getFloat64(p + i * 8, true);
    return out;
  }
  /** Throws unless every byte was consumed. */
  end(): void {
    if (this.pos !== this.len) throw new ProtocolError('trailing bytes');
  }
}

/**
 * Checks a normalized export-relative path: "" (the export root) or
 * components joined by "/", none empty, "." or "..", no NUL byte.
 */
export function isValidPath(p: string): boolean {
  if (p === '') return true;
  if (p.length > MAX_PATH) return false;
  for (const c of p.split('/')) if (!isValidName(c)) return false;
  return true;
}

/** One path component: non-empty, not "." or "..", no "/" and no NUL. */
export function isValidName(n: string): boolean {
  return n !== '' && n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0');
}
