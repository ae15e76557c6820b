// The eBPF programs that count a sandbox's system calls in the kernel, on the
// raw_syscalls tracepoints (docs/design.md, "Syscall coverage"): generated
// here as instructions, loaded and attached by native/bpf.cc.
//
// Only tasks in the sandbox's pid namespace are counted (the filter refuses
// new namespaces to the guest, so every guest task is in it and nothing else
// is). A call is counted at its exit, where its result is known: the exit
// tracepoint fires for every call, also one the seccomp filter denied or the
// Sentry answered (the entry tracepoint does not fire for those). exit and
// exit_group never return, and rt_sigreturn's exit has no number (the
// restored registers say "no call", -1): these three are counted at their
// entry. At exit, -1 is also a call the Sentry skipped at a ptrace stop (a
// refused exec, whose count comes from the Sentry's events): not counted.
//
// Map `counts`: {tgid, generation, nr, errno, class} -> {calls, ns, timed}.
// The generation is the number of successful execs of the process so far
// (map `gens`, by tgid), so the counts split per executable; a new process
// starts at 0 (its first return from fork/clone, which is not a call of its
// own and not counted). Time: the entry program stamps {time, nr, class}
// per thread (map `starts`); the exit of the same call takes the difference
// and clears the stamp, so a call without an entry event (denied, answered
// by the Sentry) is not timed by the kernel. The class (arg-classes.ts) is
// the stamp's, from the arguments the kernel ran the call with (the Sentry
// may have rewritten them, as clone3 into clone, and put the caller's back
// before the exit); a call without an entry event takes it from the task's
// saved user registers at exit, which still hold its arguments.

//
// With --strace (map `records`, a BPF ring buffer) each call is also written
// as one record for the Sentry to print: at exit, the arguments from the
// saved user registers and up to two path strings read from the guest's
// memory; exit, exit_group and rt_sigreturn at entry. A record the full
// buffer refuses is counted in `lost` (an array of one u64).

import { CLASS_SPECS, HAS_CLASS } from './arg-classes.js';
import { stringArgs } from '../sentry/strace.js';
import { byName, byNumber } from '../syscalls/table.js';

/** counts' key: {u32 tgid, u32 generation, i32 nr, u32 errno, u64 class}; value: {u64 calls, u64 ns, u64 timed} */
export const COUNTS_KEY_SIZE = 24;
export const COUNTS_VALUE_SIZE = 24;
/** starts: u32 tid -> {u64 ns, i64 nr, u64 class} */
export const STARTS_VALUE_SIZE = 24;

const NR_RT_SIGRETURN = 15;
const NR_CLONE = 56;
const NR_FORK = 57;
const NR_VFORK = 58;
const NR_EXECVE = 59;
const NR_EXIT = 60;
const NR_EXIT_GROUP = 231;
const NR_EXECVEAT = 322;
const NR_CLONE3 = 435;

/**
 * A --strace record: {u32 tid, u32 tgid (in the sandbox), i64 nr, i64 ret, u64 args[6], i32 string
 * lengths[2], u32 kind, u32 generation, u32 host tgid, u32 host tid, char strings[2][STRING_SIZE]}
 */
export const REC = { tid: 0, tgid: 4, nr: 8, ret: 16, args: 24, strlen: 72, kind: 80, gen: 84, hostTgid: 88, hostTid: 92, strings: 96 } as const;
export const STRING_SIZE = 256;
export const RECORD_SIZE = REC.strings + 2 * STRING_SIZE;
/** A record's kind: a call seen at its exit, or one that does not return (seen at entry). */
export const KIND_EXIT = 0;
export const KIND_NO_RETURN = 1;

const BPF_FUNC_MAP_LOOKUP_ELEM = 1;
const BPF_FUNC_KTIME_GET_NS = 5;
const BPF_FUNC_PROBE_READ_USER = 112;
const BPF_FUNC_PROBE_READ_KERNEL = 113;
const BPF_FUNC_GET_CURRENT_TASK_BTF = 158;
const BPF_FUNC_TASK_PT_REGS = 175;
const BPF_FUNC_PROBE_READ_USER_STR = 114;
const BPF_FUNC_RINGBUF_RESERVE = 131;
const BPF_FUNC_RINGBUF_SUBMIT = 132;
const BPF_FUNC_MAP_UPDATE_ELEM = 2;
const BPF_FUNC_MAP_DELETE_ELEM = 3;
const BPF_FUNC_GET_CURRENT_PID_TGID = 14;
const BPF_FUNC_GET_NS_CURRENT_PID_TGID = 120;
const BPF_ANY = 0;
const BPF_NOEXIST = 1;
/** struct pt_regs (x86_64) up to orig_ax, read as one block; the offsets of the six arguments in it (di, si, dx, r10, r8, r9) */
const REGS_LEN = 128;
const ARG_OFFSETS = [112, 104, 96, 56, 72, 64];

/** A tiny assembler: 8-byte instructions, jumps to named labels. */
class Asm {
  private readonly insns: { op: number; dst: number; src: number; off: number | string; imm: number }[] = [];
  private readonly labels = new Map<string, number>();

  raw(op: number, dst: number, src: number, off: number | string, imm: number): this {
    this.insns.push({ op, dst, src, off, imm });
    return this;
  }
  label(name: string): this {
    this.labels.set(name, this.insns.length);
    return this;
  }
  /** ld_imm64 dst, value (src 1: value is a map fd) */
  ld64(dst: number, value: bigint, src = 0): this {
    const v = BigInt.asUintN(64, value);
    this.raw(0x18, dst, src, 0, Number(BigInt.asIntN(32, v & 0xffffffffn)));
    return this.raw(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n)));
  }
  movImm(dst: number, imm: number): this {
    return this.raw(0xb7, dst, 0, 0, imm);
  }
  mov(dst: number, src: number): this {
    return this.raw(0xbf, dst, src, 0, 0);
  }
  addImm(dst: number, imm: number): this {
    return this.raw(0x07, dst, 0, 0, imm);
  }
  rshImm(dst: number, imm: number): this {
    return this.raw(0x77, dst, 0, 0, imm);
  }
  /** dst = (u32)src */
  mov32(dst: number, src: number): this {
    return this.raw(0xbc, dst, src, 0, 0);
  }
  andImm(dst: number, imm: number): this {
    return this.raw(0x57, dst, 0, 0, imm);
  }
  lshImm(dst: number, imm: number): this {
    return this.raw(0x67, dst, 0, 0, imm);
  }
  or(dst: number, src: number): this {
    return this.raw(0x4f, dst, src, 0, 0);
  }
  sub(dst: number, src: number): this {
    return this.raw(0x1f, dst, src, 0, 0);
  }
  neg(dst: number): this {
    return this.raw(0x87, dst, 0, 0, 0);
  }
  ldxw(dst: number, src: number, off: number): this {
    return this.raw(0x61, dst, src, off, 0);
  }
  ldxdw(dst: number, src: number, off: number): this {
    return this.raw(0x79, dst, src, off, 0);
  }
  stxw(dst: number, off: number, src: number): this {
    return this.raw(0x63, dst, src, off, 0);
  }
  stxdw(dst: number, off: number, src: number): this {
    return this.raw(0x7b, dst, src, off, 0);
  }
  /** lock *(u64 *)(dst + off) += src */
  atomicAdd(dst: number, off: number, src: number): this {
    return this.raw(0xdb, dst, src, off, 0);
  }
  /** jump-if-register: op 0x10 eq, 0x50 ne */
  jReg(op: number, dst: number, src: number, to: string): this {
    return this.raw(0x0d | op, dst, src, to, 0);
  }
  /** jump-if-immediate: op 0x10 eq, 0x50 ne, 0x70 sge, 0xc0 slt */
  jImm(op: number, dst: number, imm: number, to: string): this {
    return this.raw(0x05 | op, dst, 0, to, imm);
  }
  ja(to: string): this {
    return this.raw(0x05, 0, 0, to, 0);
  }
  call(fn: number): this {
    return this.raw(0x85, 0, 0, 0, fn);
  }
  exit(): this {
    return this.raw(0x95, 0, 0, 0, 0);
  }

  bytes(): Uint8Array {
    const out = Buffer.alloc(this.insns.length * 8);
    this.insns.forEach((ins, i) => {
      let off = ins.off;
      if (typeof off === 'string') {
        const at = this.labels.get(off);
        if (at === undefined) throw new Error(`bpf: no label ${off}`);
        off = at - i - 1;
      }
      out.writeUInt8(ins.op, i * 8);
      out.writeUInt8((ins.src << 4) | ins.dst, i * 8 + 1);
      out.writeInt16LE(off, i * 8 + 2);
      out.writeInt32LE(ins.imm, i * 8 + 4);
    });
    return out;
  }
}

export interface ProgramMaps {
  counts: number;
  gens: number;
  starts: number;
  /** --strace: the ring buffer of call records and the count of those it refused; `only`: the numbers recorded (absent: all) */
  records?: { ring: number; lost: number; only?: readonly number[] };
  /** the sandbox's pid namespace: the kernel's dev_t of nsfs and its inode */
  nsDev: bigint;
  nsIno: bigint;
}

// Stack layout (offsets from r10): the namespace helper's output at -16;
// the counts key at -64 (tgid -64, gen -60, nr -56, errno -52, class -48);
// the gens key (tgid) at -72; the starts key (tid) at -80; a counts value
// at -104 (calls -104, ns -96, timed -88); the gens value at -112; a starts
// value at -136 (ns -136, nr -128, class -120); the user registers at -264;
// a u32 of a struct a call points to (clone3's, openat2's class) at -272.
const KEY = -64;
const GENS_KEY = -72;
const STARTS_KEY = -80;
const VALUE = -104;
const GENS_VALUE = -112;
const STAMP = -136;
const REGS = -264;
const STRUCT_U32 = -272;
/** r9 while a record is written; the key of `lost` */
const SPILL = -24;
const LOST_KEY = -32;

/** r7 = tgid, r8 = tid, for a task of the sandbox's pid namespace; else to 'out'. */
function sandboxTask(a: Asm, m: ProgramMaps): void {
  a.ld64(1, m.nsDev).ld64(2, m.nsIno).mov(3, 10).addImm(3, -16).movImm(4, 8);
  a.call(BPF_FUNC_GET_NS_CURRENT_PID_TGID).jImm(0x50, 0, 0, 'out');
  a.call(BPF_FUNC_GET_CURRENT_PID_TGID).mov(7, 0).rshImm(7, 32).mov(8, 0).lshImm(8, 32).rshImm(8, 32);
}

/**
 * The call's argument class (0 for a call without one) into the stack at
 * `dst`: at entry from the tracepoint's arguments, at exit from the task's
 * saved user registers (bpf_task_pt_regs), which still hold them. A part in
 * a struct the call points to is read from the caller's memory (the helper
 * leaves 0 where it cannot read). The class is built in `dst` (helpers
 * clobber r1-r5).
 */
function argClass(a: Asm, atEntry: boolean, dst: number): void {
  a.movImm(1, 0).stxdw(10, dst, 1);
  a.ldxdw(1, 6, 8);
  const arg = atEntry ? (i: number) => a.ldxdw(1, 6, 16 + 8 * i) : (i: number) => a.ldxdw(1, 10, REGS + ARG_OFFSETS[i]!);
  if (!atEntry) {
    for (const nr of CLASS_SPECS.keys()) a.jImm(0x10, 1, nr, `regs${nr}`);
    a.ja('classed');
    a.label('regs');
    a.call(BPF_FUNC_GET_CURRENT_TASK_BTF).mov(1, 0).call(BPF_FUNC_TASK_PT_REGS);
    a.mov(3, 0).mov(1, 10).addImm(1, REGS).movImm(2, REGS_LEN).call(BPF_FUNC_PROBE_READ_KERNEL);
    a.jImm(0x50, 0, 0, 'classed');
    a.ldxdw(1, 6, 8);
  }
  for (const nr of CLASS_SPECS.keys()) a.jImm(0x10, 1, nr, `class${nr}`);
  a.ja('classed');
  for (const [nr, spec] of CLASS_SPECS) {
    // At exit, two passes: to the shared register read, then back by number to pack.
    if (!atEntry) a.label(`regs${nr}`).ja('regs');
    a.label(`class${nr}`);
    for (const p of spec.parts) {
      if (p.offset === undefined) arg(p.index).mov32(1, 1);
      else {
        arg(p.index).mov(3, 1).addImm(3, p.offset).mov(1, 10).addImm(1, STRUCT_U32).movImm(2, 4).call(BPF_FUNC_PROBE_READ_USER);
        a.ldxw(1, 10, STRUCT_U32);
      }
      if (p.mask !== 0xffffffff) a.andImm(1, p.mask | 0);
      if (p.shift) a.lshImm(1, p.shift);
      a.ldxdw(2, 10, dst).or(2, 1).stxdw(10, dst, 2);
    }
    a.ld64(1, HAS_CLASS).ldxdw(2, 10, dst).or(2, 1).stxdw(10, dst, 2).ja('classed');
  }
  a.label('classed');
}

/** Calls whose data buffer a record carries (the first DATA_SIZE bytes of what the call read or wrote), by number: the buffer's argument. */
export const DATA_ARGS: ReadonlyMap<number, number> = new Map(['read', 'write', 'pread64', 'pwrite64'].map((n) => [byName.get(n)!.nr, 1]));
export const DATA_SIZE = 32;

/** The path arguments of the calls that have some, by number (at most two each). */
const PATH_ARGS: ReadonlyMap<number, number[]> = new Map(
  byNumber.flatMap((e) => (e && stringArgs(e).length ? [[e.nr, stringArgs(e).slice(0, 2)] as [number, number[]]] : [])),
);

/**
 * One --strace record of the current call into the ring buffer (r9 holds it
 * while it is filled): at entry from the tracepoint's arguments, at exit from
 * the task's saved user registers. Needs r6 ctx, the namespace's ids at -16
 * and the counts key's head (keyHead); keeps r9.
 */
function emitRecord(a: Asm, rec: { ring: number; lost: number; only?: readonly number[] }, atEntry: boolean): void {
  if (rec.only) {
    a.ldxdw(1, 6, 8);
    for (const nr of rec.only) a.jImm(0x10, 1, nr, 'rec-wanted');
    a.ja('rec-skipped').label('rec-wanted');
  }
  a.stxdw(10, SPILL, 9);
  a.ld64(1, BigInt(rec.ring), 1).movImm(2, RECORD_SIZE).movImm(3, 0).call(BPF_FUNC_RINGBUF_RESERVE);
  a.jImm(0x50, 0, 0, 'rec-reserved');
  a.movImm(1, 0).stxw(10, LOST_KEY, 1).ld64(1, BigInt(rec.lost), 1).mov(2, 10).addImm(2, LOST_KEY).call(BPF_FUNC_MAP_LOOKUP_ELEM);
  a.jImm(0x10, 0, 0, 'rec-done').movImm(1, 1).atomicAdd(0, 0, 1).ja('rec-done');
  a.label('rec-reserved').mov(9, 0);
  a.ldxdw(1, 10, -16).stxdw(9, REC.tid, 1);
  a.ldxdw(1, 6, 8).stxdw(9, REC.nr, 1);
  if (atEntry) a.movImm(1, 0);
  else a.ldxdw(1, 6, 16);
  a.stxdw(9, REC.ret, 1).movImm(1, atEntry ? KIND_NO_RETURN : KIND_EXIT).stxw(9, REC.kind, 1);
  a.ldxw(1, 10, KEY + 4).stxw(9, REC.gen, 1).ldxw(1, 10, KEY).stxw(9, REC.hostTgid, 1).stxw(9, REC.hostTid, 8);
  if (!atEntry) {
    // bpf_probe_read_kernel zeroes its destination when it fails.
    a.call(BPF_FUNC_GET_CURRENT_TASK_BTF).mov(1, 0).call(BPF_FUNC_TASK_PT_REGS);
    a.mov(3, 0).mov(1, 10).addImm(1, REGS).movImm(2, REGS_LEN).call(BPF_FUNC_PROBE_READ_KERNEL);
  }
  for (let i = 0; i < 6; i++) {
    if (atEntry) a.ldxdw(1, 6, 16 + 8 * i);
    else a.ldxdw(1, 10, REGS + ARG_OFFSETS[i]!);
    a.stxdw(9, REC.args + 8 * i, 1);
  }
  a.movImm(1, 0).stxdw(9, REC.strlen, 1).stxdw(9, REC.strings, 1).stxdw(9, REC.strings + STRING_SIZE, 1);
  if (!atEntry) {
    a.ldxdw(1, 6, 8);
    for (const nr of PATH_ARGS.keys()) a.jImm(0x10, 1, nr, `rec-str${nr}`);
    a.ja('rec-pathless');
    for (const [nr, indexes] of PATH_ARGS) {
      a.label(`rec-str${nr}`);
      indexes.forEach((index, slot) => {
        a.mov(1, 9).addImm(1, REC.strings + STRING_SIZE * slot).movImm(2, STRING_SIZE).ldxdw(3, 9, REC.args + 8 * index);
        a.call(BPF_FUNC_PROBE_READ_USER_STR).stxw(9, REC.strlen + 4 * slot, 0);
      });
      a.ja('rec-strung');
    }
    // Data: string slot 0 gets min(result, DATA_SIZE) bytes of the buffer, its length the count (-1: unreadable).
    a.label('rec-pathless');
    for (const nr of DATA_ARGS.keys()) a.jImm(0x10, 1, nr, 'rec-data');
    a.ja('rec-strung');
    a.label('rec-data');
    a.ldxdw(2, 9, REC.ret).raw(0xd5, 2, 0, 'rec-strung', 0); // jsle 0
    a.raw(0xb5, 2, 0, 'rec-sized', DATA_SIZE).movImm(2, DATA_SIZE); // jle DATA_SIZE
    a.label('rec-sized').stxw(9, REC.strlen, 2);
    a.ldxdw(1, 9, REC.nr).movImm(3, 0);
    for (const [nr, index] of DATA_ARGS) a.raw(0x55, 1, 0, `rec-notdata${nr}`, nr).ldxdw(3, 9, REC.args + 8 * index).label(`rec-notdata${nr}`);
    a.mov(1, 9).addImm(1, REC.strings).call(BPF_FUNC_PROBE_READ_USER);
    a.jImm(0x10, 0, 0, 'rec-strung').movImm(1, -1).stxw(9, REC.strlen, 1);
    a.label('rec-strung');
  }
  a.mov(1, 9).movImm(2, 0).call(BPF_FUNC_RINGBUF_SUBMIT);
  a.label('rec-done').ldxdw(9, 10, SPILL);
  if (rec.only) a.label('rec-skipped');
}

/** counts[key] += value (inserted if absent; a racing insert makes ours fail, then add). */
function addCounts(a: Asm, m: ProgramMaps): void {
  a.ld64(1, BigInt(m.counts), 1).mov(2, 10).addImm(2, KEY).call(BPF_FUNC_MAP_LOOKUP_ELEM);
  a.jImm(0x10, 0, 0, 'insert').ja('add');
  a.label('insert');
  a.ld64(1, BigInt(m.counts), 1).mov(2, 10).addImm(2, KEY).mov(3, 10).addImm(3, VALUE).movImm(4, BPF_NOEXIST);
  a.call(BPF_FUNC_MAP_UPDATE_ELEM).jImm(0x10, 0, 0, 'counted');
  a.ld64(1, BigInt(m.counts), 1).mov(2, 10).addImm(2, KEY).call(BPF_FUNC_MAP_LOOKUP_ELEM);
  a.jImm(0x10, 0, 0, 'counted');
  a.label('add');
  for (const off of [0, 8, 16]) a.ldxdw(1, 10, VALUE + off).atomicAdd(0, off, 1);
  a.label('counted');
}

/** The key's tgid and generation (r9), from `gens`. */
function keyHead(a: Asm, m: ProgramMaps): void {
  a.stxw(10, GENS_KEY, 7).ld64(1, BigInt(m.gens), 1).mov(2, 10).addImm(2, GENS_KEY).call(BPF_FUNC_MAP_LOOKUP_ELEM);
  a.movImm(9, 0).jImm(0x10, 0, 0, 'gen').ldxw(9, 0, 0).label('gen');
  a.stxw(10, KEY, 7).stxw(10, KEY + 4, 9);
  a.ldxdw(1, 6, 8).stxw(10, KEY + 8, 1);
}

/**
 * raw_syscalls:sys_enter: stamps the call's start for its exit; counts
 * exit, exit_group and rt_sigreturn, which have no exit of their own.
 * Registers: r6 ctx, r7 tgid, r8 tid, r9 generation.
 */
export function enterProgram(m: ProgramMaps): Uint8Array {
  const a = new Asm();
  a.mov(6, 1);
  sandboxTask(a, m);
  a.ldxdw(1, 6, 8);
  a.jImm(0x10, 1, NR_EXIT, 'ours');
  a.jImm(0x10, 1, NR_EXIT_GROUP, 'ours');
  a.jImm(0x10, 1, NR_RT_SIGRETURN, 'ours');
  // The stamp: {now, nr, class of the arguments the kernel runs the call with}. The thread's
  // stamp is rewritten in place; only its first call inserts one (an update costs several lookups).
  argClass(a, true, STAMP + 16);
  a.ldxdw(1, 6, 8).stxdw(10, STAMP + 8, 1);
  a.stxw(10, STARTS_KEY, 8).ld64(1, BigInt(m.starts), 1).mov(2, 10).addImm(2, STARTS_KEY).call(BPF_FUNC_MAP_LOOKUP_ELEM);
  a.jImm(0x10, 0, 0, 'stamp');
  a.mov(9, 0).call(BPF_FUNC_KTIME_GET_NS).stxdw(9, 0, 0);
  a.ldxdw(1, 10, STAMP + 8).stxdw(9, 8, 1).ldxdw(1, 10, STAMP + 16).stxdw(9, 16, 1).ja('out');
  a.label('stamp');
  a.call(BPF_FUNC_KTIME_GET_NS).stxdw(10, STAMP, 0);
  a.ld64(1, BigInt(m.starts), 1).mov(2, 10).addImm(2, STARTS_KEY).mov(3, 10).addImm(3, STAMP).movImm(4, BPF_ANY);
  a.call(BPF_FUNC_MAP_UPDATE_ELEM).ja('out');
  a.label('ours');
  keyHead(a, m);
  if (m.records) emitRecord(a, m.records, true);
  a.movImm(1, 0).stxw(10, KEY + 12, 1).stxdw(10, KEY + 16, 1);
  a.stxdw(10, VALUE + 8, 1).stxdw(10, VALUE + 16, 1).movImm(1, 1).stxdw(10, VALUE, 1);
  addCounts(a, m);
  a.label('out').movImm(0, 0).exit();
  return a.bytes();
}

/**
 * raw_syscalls:sys_exit: counts the call with its result, class and time.
 * Registers: r6 ctx, r7 tgid, r8 tid, r9 generation.
 */
export function exitProgram(m: ProgramMaps): Uint8Array {
  const a = new Asm();
  a.mov(6, 1);
  sandboxTask(a, m);
  a.ldxdw(1, 6, 8).jImm(0x10, 1, -1, 'out');
  // A new task's first return from fork/clone: not a call; a new process starts at generation 0.
  a.ldxdw(2, 6, 16).jImm(0x50, 2, 0, 'call');
  a.ldxdw(1, 6, 8);
  for (const nr of [NR_CLONE, NR_FORK, NR_VFORK, NR_CLONE3]) a.jImm(0x10, 1, nr, 'newtask');
  a.ja('call');
  a.label('newtask');
  a.raw(0x5d, 7, 8, 'out', 0); // tgid != tid: a thread
  a.stxw(10, GENS_KEY, 7).ld64(1, BigInt(m.gens), 1).mov(2, 10).addImm(2, GENS_KEY).call(BPF_FUNC_MAP_DELETE_ELEM).ja('out');
  a.label('call');
  keyHead(a, m);
  if (m.records) emitRecord(a, m.records, false);
  a.movImm(3, 0);
  a.ldxdw(2, 6, 16).jImm(0x70, 2, 0, 'errno').jImm(0xc0, 2, -4095, 'errno').mov(3, 2).neg(3);
  a.label('errno');
  a.stxw(10, KEY + 12, 3);
  // value = {1, ns since this call's entry, 1} and the class its entry saw, or without
  // an entry (denied, answered by the Sentry) {1, 0, 0} and the class of the saved registers.
  a.movImm(1, 1).stxdw(10, VALUE, 1).movImm(1, 0).stxdw(10, VALUE + 8, 1).stxdw(10, VALUE + 16, 1);
  a.stxw(10, STARTS_KEY, 8).ld64(1, BigInt(m.starts), 1).mov(2, 10).addImm(2, STARTS_KEY).call(BPF_FUNC_MAP_LOOKUP_ELEM);
  a.jImm(0x10, 0, 0, 'untimed');
  a.ldxdw(1, 0, 0).jImm(0x10, 1, 0, 'untimed');
  a.ldxdw(2, 0, 8).ldxdw(3, 6, 8).jReg(0x50, 2, 3, 'untimed');
  a.ldxdw(2, 0, 16).stxdw(10, KEY + 16, 2);
  a.movImm(2, 0).stxdw(0, 0, 2);
  a.stxdw(10, VALUE + 8, 1).call(BPF_FUNC_KTIME_GET_NS).ldxdw(1, 10, VALUE + 8).sub(0, 1).stxdw(10, VALUE + 8, 0);
  a.movImm(1, 1).stxdw(10, VALUE + 16, 1).ja('timed');
  a.label('untimed');
  argClass(a, false, KEY + 16);
  a.label('timed');
  addCounts(a, m);
  // A successful exec: the process's next calls are the new executable's.
  a.ldxdw(2, 6, 16).jImm(0x50, 2, 0, 'out');
  a.ldxdw(1, 6, 8).jImm(0x10, 1, NR_EXECVE, 'exec').jImm(0x10, 1, NR_EXECVEAT, 'exec').ja('out');
  a.label('exec');
  a.addImm(9, 1).stxw(10, GENS_VALUE, 9);
  a.ld64(1, BigInt(m.gens), 1).mov(2, 10).addImm(2, GENS_KEY).mov(3, 10).addImm(3, GENS_VALUE).movImm(4, 0);
  a.call(BPF_FUNC_MAP_UPDATE_ELEM);
  a.label('out').movImm(0, 0).exit();
  return a.bytes();
}
