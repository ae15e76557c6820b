// Copying syscall arguments in and results out of guest memory. Every
// argument is copied exactly once; decisions are made on the copy.
import { PATH_MAX } from '../abi/linux.js';
import { native } from '../platform/native.js';
import { fail, sysErr } from './errors.js';
import type { Task } from './task.js';

/** Reads a NUL-terminated path (latin1 string of the raw bytes). */
export function readPath(t: Task, addr: number): string {
  if (addr === 0) fail('EFAULT');
  const r = native.memReadCString(t.tid, addr, PATH_MAX);
  if (typeof r === 'number') throw sysErr(r === -36 /* ENAMETOOLONG */ ? 36 : 14 /* EFAULT */);
  return r;
}

/** Reads a NUL-terminated string of at most `max` bytes (xattr names, hostnames...). */
export function readString(t: Task, addr: number, max: number): string {
  if (addr === 0) fail('EFAULT');
  const r = native.memReadCString(t.tid, addr, max);
  if (typeof r === 'number') throw sysErr(r === -36 ? 34 /* ERANGE */ : 14);
  return r;
}

export function readBytes(t: Task, addr: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  if (len === 0) return b;
  if (addr === 0) fail('EFAULT');
  const n = native.memRead(t.tid, addr, b, 0, len);
  if (n !== len) fail('EFAULT');
  return b;
}

export function writeBytes(t: Task, addr: number, b: Uint8Array, len = b.length): void {
  if (len === 0) return;
  if (addr === 0) fail('EFAULT');
  const n = native.memWrite(t.tid, addr, b, 0, len);
  if (n !== len) fail('EFAULT');
}

const scratch = Buffer.alloc(16);
export function readU64(t: Task, addr: number): number {
  if (native.memRead(t.tid, addr, scratch, 0, 8) !== 8) fail('EFAULT');
  return scratch.readUInt32LE(0) + scratch.readUInt32LE(4) * 2 ** 32;
}
export function readI32(t: Task, addr: number): number {
  if (native.memRead(t.tid, addr, scratch, 0, 4) !== 4) fail('EFAULT');
  return scratch.readInt32LE(0);
}
export function writeI32(t: Task, addr: number, v: number): void {
  scratch.writeInt32LE(v | 0, 0);
  writeBytes(t, addr, scratch, 4);
}

/** Reads a NULL-terminated array of string pointers (argv/envp). */
export function readStringArray(t: Task, addr: number, max = 1 << 17): string[] {
  const out: string[] = [];
  if (addr === 0) return out;
  for (let i = 0; ; i++) {
    if (i >= max) fail('E2BIG');
    const p = readU64(t, addr + 8 * i);
    if (p === 0) return out;
    out.push(readString(t, p, 1 << 20));
  }
}
