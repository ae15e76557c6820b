// A classic-BPF interpreter for the subset seccomp programs use, so the
// generated filter can be checked against the table without a kernel.
import {
  BPF_ALU_AND_K,
  BPF_JMP_JA,
  BPF_JMP_JEQ_K,
  BPF_JMP_JGE_K,
  BPF_JMP_JGT_K,
  BPF_JMP_JSET_K,
  BPF_LD_W_ABS,
  BPF_RET_K,
  type Insn,
} from '../../src/bpf/filter.js';

export interface SeccompData {
  nr: number;
  arch: number;
  ip?: number;
  /** 64-bit argument values (numbers below 2^53 or bigints) */
  args?: (number | bigint)[];
}

function dataWord(d: SeccompData, off: number): number {
  if (off % 4 !== 0 || off < 0 || off >= 64) throw new Error(`bad load offset ${off}`);
  if (off === 0) return d.nr >>> 0;
  if (off === 4) return d.arch >>> 0;
  if (off < 16) {
    const ip = BigInt(d.ip ?? 0);
    return Number(off === 8 ? ip & 0xffffffffn : ip >> 32n);
  }
  const i = (off - 16) >> 3;
  const v = BigInt.asUintN(64, BigInt(d.args?.[i] ?? 0));
  return Number(off % 8 === 0 ? v & 0xffffffffn : v >> 32n);
}

/** Runs the program; returns the 32-bit seccomp return value. */
export function runBpf(prog: readonly Insn[], d: SeccompData): number {
  let acc = 0;
  let pc = 0;
  for (let steps = 0; steps < 100000; steps++) {
    const p = prog[pc];
    if (!p) throw new Error(`fell off the program at ${pc}`);
    switch (p.code) {
      case BPF_LD_W_ABS:
        acc = dataWord(d, p.k);
        pc++;
        break;
      case BPF_JMP_JA:
        pc += 1 + p.k;
        break;
      case BPF_JMP_JEQ_K:
        pc += 1 + (acc === p.k >>> 0 ? p.jt : p.jf);
        break;
      case BPF_JMP_JGE_K:
        pc += 1 + (acc >>> 0 >= p.k >>> 0 ? p.jt : p.jf);
        break;
      case BPF_JMP_JGT_K:
        pc += 1 + (acc >>> 0 > p.k >>> 0 ? p.jt : p.jf);
        break;
      case BPF_JMP_JSET_K:
        pc += 1 + ((acc & p.k) >>> 0 !== 0 ? p.jt : p.jf);
        break;
      case BPF_ALU_AND_K:
        acc = (acc & p.k) >>> 0;
        pc++;
        break;
      case BPF_RET_K:
        return p.k >>> 0;
      default:
        throw new Error(`unsupported opcode 0x${p.code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('program did not terminate');
}
