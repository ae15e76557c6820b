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
// Map `counts`: {tgid, generation, nr, errno} -> calls. The generation is the
// number of successful execs of the process so far (map `gens`, by tgid), so
// the counts split per executable; a new process starts at 0 (its first
// return from fork/clone, which is not a call of its own and not counted).

/** counts' key: {u32 tgid, u32 generation, i32 nr, u32 errno}; value: u64 calls */
export const COUNTS_KEY_SIZE = 16;
export const COUNTS_VALUE_SIZE = 8;

const NR_RT_SIGRETURN = 15;
const NR_CLONE = 56;
const NR_FORK = 57;
const NR_VFORK = 58;
const NR_EXECVE = 59;
const NR_EXIT = 60;
const NR_EXIT_GROUP = 231;
const NR_EXECVEAT = 322;
const NR_CLONE3 = 435;

const BPF_FUNC_MAP_LOOKUP_ELEM = 1;
const BPF_FUNC_MAP_UPDATE_ELEM = 2;
const BPF_FUNC_MAP_DELETE_ELEM = 3;
const BPF_FUNC_GET_CURRENT_PID_TGID = 14;
const BPF_FUNC_GET_NS_CURRENT_PID_TGID = 120;
const BPF_NOEXIST = 1;

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
  /** the sandbox's pid namespace: the kernel's dev_t of nsfs and its inode */
  nsDev: bigint;
  nsIno: bigint;
}

/**
 * The program for raw_syscalls:sys_exit (`atExit`) or sys_enter (which
 * counts only exit, exit_group and rt_sigreturn). Registers: r6 ctx, r7 tgid, r8 tid,
 * r9 generation; the stack holds the key at fp-32 and the tgid at fp-40.
 */
export function syscallProgram(m: ProgramMaps, atExit: boolean): Uint8Array {
  const a = new Asm();
  a.mov(6, 1);
  if (!atExit) {
    a.ldxdw(1, 6, 8);
    a.jImm(0x10, 1, NR_EXIT, 'ours');
    a.jImm(0x10, 1, NR_EXIT_GROUP, 'ours');
    a.jImm(0x10, 1, NR_RT_SIGRETURN, 'ours');
    a.ja('out');
    a.label('ours');
  }
  a.ld64(1, m.nsDev).ld64(2, m.nsIno).mov(3, 10).addImm(3, -16).movImm(4, 8);
  a.call(BPF_FUNC_GET_NS_CURRENT_PID_TGID).jImm(0x50, 0, 0, 'out');
  a.call(BPF_FUNC_GET_CURRENT_PID_TGID).mov(7, 0).rshImm(7, 32).mov(8, 0).raw(0x67, 8, 0, 0, 32).rshImm(8, 32);
  if (atExit) {
    a.ldxdw(1, 6, 8).jImm(0x10, 1, -1, 'out');
    // A new task's first return from fork/clone: not a call; a new process starts at generation 0.
    a.ldxdw(2, 6, 16).jImm(0x50, 2, 0, 'counted');
    a.ldxdw(1, 6, 8);
    for (const nr of [NR_CLONE, NR_FORK, NR_VFORK, NR_CLONE3]) a.jImm(0x10, 1, nr, 'newtask');
    a.ja('counted');
    a.label('newtask');
    a.raw(0x5d, 7, 8, 'out', 0); // tgid != tid: a thread
    a.stxw(10, -40, 7).ld64(1, BigInt(m.gens), 1).mov(2, 10).addImm(2, -40).call(BPF_FUNC_MAP_DELETE_ELEM).ja('out');
    a.label('counted');
  }
  // key = {tgid, gen, nr, errno}
  a.stxw(10, -40, 7).ld64(1, BigInt(m.gens), 1).mov(2, 10).addImm(2, -40).call(BPF_FUNC_MAP_LOOKUP_ELEM);
  a.movImm(9, 0).jImm(0x10, 0, 0, 'gen').ldxw(9, 0, 0).label('gen');
  a.stxw(10, -32, 7).stxw(10, -28, 9);
  a.ldxdw(1, 6, 8).stxw(10, -24, 1);
  a.movImm(3, 0);
  if (atExit) {
    a.ldxdw(2, 6, 16).jImm(0x70, 2, 0, 'errno').jImm(0xc0, 2, -4095, 'errno').mov(3, 2).neg(3);
    a.label('errno');
  }
  a.stxw(10, -20, 3);
  // counts[key] += 1 (inserted with 1 if absent; a racing insert makes ours fail, then add)
  a.ld64(1, BigInt(m.counts), 1).mov(2, 10).addImm(2, -32).call(BPF_FUNC_MAP_LOOKUP_ELEM);
  a.jImm(0x10, 0, 0, 'insert').movImm(1, 1).atomicAdd(0, 0, 1).ja('execs');
  a.label('insert');
  a.movImm(1, 1).stxdw(10, -48, 1);
  a.ld64(1, BigInt(m.counts), 1).mov(2, 10).addImm(2, -32).mov(3, 10).addImm(3, -48).movImm(4, BPF_NOEXIST);
  a.call(BPF_FUNC_MAP_UPDATE_ELEM).jImm(0x10, 0, 0, 'execs');
  a.ld64(1, BigInt(m.counts), 1).mov(2, 10).addImm(2, -32).call(BPF_FUNC_MAP_LOOKUP_ELEM);
  a.jImm(0x10, 0, 0, 'execs').movImm(1, 1).atomicAdd(0, 0, 1);
  a.label('execs');
  if (atExit) {
    // A successful exec: the process's next calls are the new executable's.
    a.ldxdw(2, 6, 16).jImm(0x50, 2, 0, 'out');
    a.ldxdw(1, 6, 8).jImm(0x10, 1, NR_EXECVE, 'exec').jImm(0x10, 1, NR_EXECVEAT, 'exec').ja('out');
    a.label('exec');
    a.addImm(9, 1).stxw(10, -48, 9);
    a.ld64(1, BigInt(m.gens), 1).mov(2, 10).addImm(2, -40).mov(3, 10).addImm(3, -48).movImm(4, 0);
    a.call(BPF_FUNC_MAP_UPDATE_ELEM);
  }
  a.label('out').movImm(0, 0).exit();
  return a.bytes();
}
