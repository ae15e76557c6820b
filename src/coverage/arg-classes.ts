// Argument classes: for the calls whose support depends on an argument, the
// part of the arguments that decides it (ioctl's request, socket's family,
// type and protocol...). The eBPF exit program packs a call's class into one
// u64 of its counts key (bpf-program.ts); the report unpacks and names it.
// clone3 and openat2 pass theirs in a struct the call points to (struct
// clone_args, struct open_how): those parts are read from the caller's
// memory (a struct that cannot be read counts as 0), and, as no seccomp
// filter can test memory, give the class no argument condition.
import { O_ACCMODE, O_APPEND, O_CREAT, O_DIRECT, O_DIRECTORY, O_DSYNC, O_EXCL, O_NOATIME, O_NOFOLLOW, O_PATH, O_SYNC, O_TMPFILE, O_TRUNC, O_ASYNC } from '../abi/linux.js';
import { argClassName } from '../abi/arg-names.js';
import type { ArgCondition } from './schema.js';

/** Bit 63 of a packed class: the call has one (0 is a valid class value). */
export const HAS_CLASS = 1n << 63n;

/**
 * One argument's part: `(args[index] & mask) << shift` in the packed class;
 * with `offset`, args[index] points to a struct and the part is the u32 at
 * that offset in it.
 */
export interface ClassPart {
  index: number;
  mask: number;
  shift: number;
  offset?: number;
}

export interface ClassSpec {
  kind: string;
  parts: ClassPart[];
}

/** The open flags that change what an open asks of the kernel (not O_CLOEXEC, O_LARGEFILE, O_NOCTTY, O_NONBLOCK). */
export const OPEN_CLASS_MASK = O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_DSYNC | O_SYNC | O_ASYNC | O_DIRECT | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_PATH | O_TMPFILE;

const one = (kind: string, index: number, mask = 0xffffffff): ClassSpec => ({ kind, parts: [{ index, mask, shift: 0 }] });
const socketSpec: ClassSpec = { kind: 'family/type/protocol', parts: [{ index: 0, mask: 0xffff, shift: 40 }, { index: 1, mask: 0xf, shift: 32 }, { index: 2, mask: 0xffffffff, shift: 0 }] };
/** struct clone_args' flags (u64 at 0): the low word, and CLONE_CLEAR_SIGHAND and CLONE_INTO_CGROUP from the high one. */
const clone3Spec: ClassSpec = { kind: 'flags', parts: [{ index: 0, offset: 0, mask: 0xffffffff, shift: 0 }, { index: 0, offset: 4, mask: 0xff, shift: 32 }] };
/** struct open_how's flags (u64 at 0; the bits open and openat classify) and resolve (u64 at 16). */
const openat2Spec: ClassSpec = { kind: 'flags/resolve', parts: [{ index: 2, offset: 0, mask: OPEN_CLASS_MASK, shift: 0 }, { index: 2, offset: 16, mask: 0xff, shift: 32 }] };
const sockoptSpec: ClassSpec = { kind: 'level/option', parts: [{ index: 1, mask: 0xffffffff, shift: 32 }, { index: 2, mask: 0xffffffff, shift: 0 }] };

/** By syscall number. clone's exit signal (CSIGNAL) is not part of its class. */
export const CLASS_SPECS: ReadonlyMap<number, ClassSpec> = new Map([
  [2, one('flags', 1, OPEN_CLASS_MASK)], // open
  [16, one('request', 1)], // ioctl
  [28, one('advice', 2)], // madvise
  [41, socketSpec], // socket
  [53, socketSpec], // socketpair
  [54, sockoptSpec], // setsockopt
  [55, sockoptSpec], // getsockopt
  [56, one('flags', 0, 0xffffff00)], // clone
  [72, one('command', 1)], // fcntl
  [157, one('command', 0)], // prctl
  [158, one('command', 0)], // arch_prctl
  [257, one('flags', 2, OPEN_CLASS_MASK)], // openat
  [435, clone3Spec], // clone3
  [437, openat2Spec], // openat2
]);

/**
 * The packed class (without HAS_CLASS) of a call `nr`, or null for a call
 * without classes: `u32` gives an argument's low 32 bits, `mem` the u32 at
 * `offset` in the struct argument `index` points to (0 when unreadable).
 */
export function packClass(nr: number, u32: (index: number) => number, mem: (index: number, offset: number) => number): bigint | null {
  const spec = CLASS_SPECS.get(nr);
  if (!spec) return null;
  let packed = 0n;
  for (const p of spec.parts) packed |= BigInt(((p.offset === undefined ? u32(p.index) : mem(p.index, p.offset)) & p.mask) >>> 0) << BigInt(p.shift);
  return packed;
}

export interface DecodedClass {
  kind: string;
  name: string;
  args: ArgCondition[];
}

/** A packed class (without HAS_CLASS) of call `nr`, unpacked and named. */
export function decodeClass(nr: number, packed: bigint): DecodedClass | null {
  const spec = CLASS_SPECS.get(nr);
  if (!spec) return null;
  const values = spec.parts.map((p) => Number((packed >> BigInt(p.shift)) & BigInt(p.mask)));
  // A part read from memory is no condition a seccomp filter could test.
  const args = spec.parts.flatMap((p, i) => (p.offset === undefined ? [{ index: p.index, mask: p.mask, value: values[i]! }] : []));
  return { kind: spec.kind, name: argClassName(nr, values), args };
}
