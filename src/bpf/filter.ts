// Generates the guest's seccomp BPF program from syscall-tables/.
//
// Shape: check the architecture (kill anything that is not x86_64), give
// number -1 the fallback, kill x32 calls (the x32 bit in the number), then a
// binary search over syscall number ranges that share one action, ending in a
// return or in a small block of argument rules. Numbers the table does not
// know get ENOSYS: deny by default.
import { ERRNO, type ErrnoName } from '../abi/errno.js';
import {
  AUDIT_ARCH_X86_64,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_ARGS,
  SECCOMP_DATA_NR,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_TRACE,
  SECCOMP_RET_USER_NOTIF,
  X32_SYSCALL_BIT,
} from '../abi/linux.js';
import type { Rule, SyscallEntry } from '../syscalls/table.js';

// classic BPF opcodes
export const BPF_LD_W_ABS = 0x20;
export const BPF_JMP_JA = 0x05;
export const BPF_JMP_JEQ_K = 0x15;
export const BPF_JMP_JGE_K = 0x35;
export const BPF_JMP_JGT_K = 0x25;
export const BPF_JMP_JSET_K = 0x45;
export const BPF_RET_K = 0x06;
export const BPF_ALU_AND_K = 0x54;

/** Data carried by the filter's TRACE returns, so the Sentry can tell its own
 * trace stops from those a guest-installed filter might request. */
export const TRACE_DATA = 0x7473;

/** syscall(-1) as seccomp_data.nr holds it. */
const NO_SYSCALL = 0xffffffff;

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export const insn = (code: number, k: number, jt = 0, jf = 0): Insn => ({ code, jt, jf, k: k >>> 0 });

/** What the program returns for one syscall number. */
export interface NrAction {
  ret: number;
  /** `wide`: the argument is 64 bits; otherwise the kernel only sees its low word */
  rules?: { rule: Rule; ret: number; wide: boolean }[];
  /** instructions that decide by themselves (every path returns); used instead of `ret` and `rules` */
  block?: Insn[];
}

/** Whether a C parameter declaration from the table is a 64-bit value. */
export function isWideArg(decl: string | undefined): boolean {
  if (!decl) return true;
  const type = decl.replace(/\s*\b\w+$/, '');
  if (type.includes('*')) return true;
  return !/^(const\s+)?(unsigned\s+int|int|unsigned|u32|__u32|s32|pid_t|uid_t|gid_t|umode_t|mode_t|key_serial_t|timer_t|clockid_t|mqd_t|qid_t|rwf_t)$/.test(type.trim());
}

export function errnoValue(name: ErrnoName | string): number {
  const v = (ERRNO as Record<string, number>)[name];
  if (v === undefined) throw new Error(`unknown errno ${name}`);
  return v;
}

export function retFor(action: 'allow' | 'notify' | 'trace' | 'deny', errno?: string): number {
  switch (action) {
    case 'allow':
      return SECCOMP_RET_ALLOW;
    case 'notify':
      return SECCOMP_RET_USER_NOTIF;
    case 'trace':
      return (SECCOMP_RET_TRACE | TRACE_DATA) >>> 0;
    case 'deny':
      return (SECCOMP_RET_ERRNO | errnoValue(errno ?? 'EPERM')) >>> 0;
  }
}

/**
 * The program's action for each syscall of the table. `observed`: calls the
 * table denies (whole, or by a rule) trap to the Sentry instead, which
 * answers them with the same errno and reports them (SandboxSpec.access).
 */
export function tableActions(entries: readonly SyscallEntry[], observed = false): Map<number, NrAction> {
  const out = new Map<number, NrAction>();
  const denyRet = (errno: string | undefined) => (observed ? retFor('notify') : retFor('deny', errno));
  for (const e of entries) {
    let ret: number;
    if (e.disposition === 'deny') ret = denyRet(e.errno);
    else if (e.trap === 'trace') ret = retFor('trace');
    else if (e.trap === 'notify') ret = retFor('notify');
    else ret = retFor('allow');
    const rules = e.rules?.map((rule) => ({
      rule,
      ret: rule.action === 'deny' ? denyRet(rule.errno) : retFor(rule.action),
      wide: isWideArg(e.args[rule.arg]),
    }));
    out.set(e.nr, rules?.length ? { ret, rules } : { ret });
  }
  return out;
}

/**
 * Whether `rule` matches an argument whose low and high 32-bit words are
 * `lo` and `hi`, exactly as the compiled program decides (`leaf`): a 32-bit
 * parameter's upper half is ignored.
 */
export function ruleMatches(rule: Rule, wide: boolean, lo: number, hi: number): boolean {
  if (rule.notIn !== undefined) return !rule.notIn.includes(lo >>> 0);
  const v = (rule.equals ?? rule.mask)!;
  const vlo = v % 2 ** 32;
  const vhi = wide ? Math.floor(v / 2 ** 32) : 0;
  if (rule.equals !== undefined) return lo >>> 0 === vlo && (!wide || hi >>> 0 === vhi);
  return (lo & vlo) !== 0 || (wide && (hi & vhi) !== 0);
}

interface Range {
  lo: number;
  hi: number;
  action: NrAction;
}

function sameAction(a: NrAction, b: NrAction): boolean {
  return a.ret === b.ret && !a.rules && !b.rules && !a.block && !b.block;
}

/** For numbers from `from` on that have no action of their own: `action` instead of the fallback. */
export interface Above {
  from: number;
  action: NrAction;
}

/** Consecutive number ranges covering [0, X32_SYSCALL_BIT), merged by action. */
function ranges(actions: Map<number, NrAction>, fallback: NrAction, above?: Above): Range[] {
  const out: Range[] = [];
  const push = (lo: number, hi: number, action: NrAction) => {
    const last = out[out.length - 1];
    if (last && last.hi + 1 === lo && sameAction(last.action, action)) last.hi = hi;
    else out.push({ lo, hi, action });
  };
  const gap = (lo: number, hi: number) => {
    const split = above ? Math.min(Math.max(above.from, lo), hi + 1) : hi + 1;
    if (split > lo) push(lo, split - 1, fallback);
    if (split <= hi) push(split, hi, above!.action);
  };
  const nrs = [...actions.keys()].sort((a, b) => a - b);
  let next = 0;
  for (const nr of nrs) {
    if (nr >= X32_SYSCALL_BIT) throw new Error(`syscall number ${nr} collides with the x32 bit`);
    if (nr > next) gap(next, nr - 1);
    push(nr, nr, actions.get(nr)!);
    next = nr + 1;
  }
  if (next < X32_SYSCALL_BIT) gap(next, X32_SYSCALL_BIT - 1);
  return out;
}

/** The block for one range: a return, a ready-made block, or argument rules then the default. */
function leaf(action: NrAction): Insn[] {
  if (action.block) return action.block;
  if (!action.rules) return [insn(BPF_RET_K, action.ret)];
  const out: Insn[] = [];
  for (const { rule, ret, wide } of action.rules) {
    const lo = SECCOMP_DATA_ARGS + 8 * rule.arg;
    const hi = lo + 4;
    if (rule.notIn !== undefined) {
      // ld; jeq v_i ? past the ret : next ...; ret (none matched)
      if (wide) throw new Error(`notIn rules need a 32-bit arg (arg ${rule.arg})`);
      const n = rule.notIn.length;
      if (n === 0 || n > 255) throw new Error(`notIn rule for arg ${rule.arg} needs 1..255 values`);
      out.push(insn(BPF_LD_W_ABS, lo));
      rule.notIn.forEach((v, i) => out.push(insn(BPF_JMP_JEQ_K, v, n - i, 0)));
      out.push(insn(BPF_RET_K, ret));
      continue;
    }
    if (!wide) {
      // A 32-bit parameter: the kernel ignores the upper half, so must the rule
      // (otherwise ioctl(fd, 1<<32 | TIOCSTI) would slip past it).
      if ((rule.equals ?? rule.mask)! >= 2 ** 32) throw new Error(`rule value too wide for 32-bit arg ${rule.arg}`);
      const jump = rule.equals !== undefined ? BPF_JMP_JEQ_K : BPF_JMP_JSET_K;
      out.push(insn(BPF_LD_W_ABS, lo), insn(jump, (rule.equals ?? rule.mask)!, 0, 1), insn(BPF_RET_K, ret));
      continue;
    }
    if (rule.equals !== undefined) {
      const vlo = rule.equals % 2 ** 32;
      const vhi = Math.floor(rule.equals / 2 ** 32);
      // ld lo; jeq vlo ? next : skip 3; ld hi; jeq vhi ? next : skip 1; ret
      out.push(insn(BPF_LD_W_ABS, lo), insn(BPF_JMP_JEQ_K, vlo, 0, 3));
      out.push(insn(BPF_LD_W_ABS, hi), insn(BPF_JMP_JEQ_K, vhi, 0, 1), insn(BPF_RET_K, ret));
    } else if (rule.mask !== undefined) {
      const mlo = rule.mask % 2 ** 32;
      const mhi = Math.floor(rule.mask / 2 ** 32);
      // ld lo; jset mlo ? ret : next; ld hi; jset mhi ? ret : skip ret
      out.push(insn(BPF_LD_W_ABS, lo), insn(BPF_JMP_JSET_K, mlo, 2, 0));
      out.push(insn(BPF_LD_W_ABS, hi), insn(BPF_JMP_JSET_K, mhi, 0, 1), insn(BPF_RET_K, ret));
    } else {
      throw new Error(`rule for arg ${rule.arg} has neither equals nor mask`);
    }
  }
  out.push(insn(BPF_RET_K, action.ret));
  return out;
}

/** Binary search: "nr >= pivot ? right : left", left emitted first. Classic
 * BPF jumps only forward by at most 255, so long skips use JA. Every leaf
 * returns, and the number is reloaded before the search continues past a
 * rule block (rule blocks clobber the accumulator but always return). */
function tree(rs: Range[]): Insn[] {
  if (rs.length === 1) return leaf(rs[0]!.action);
  const mid = rs.length >> 1;
  const left = tree(rs.slice(0, mid));
  const right = tree(rs.slice(mid));
  const pivot = rs[mid]!.lo;
  if (left.length <= 255) return [insn(BPF_JMP_JGE_K, pivot, left.length, 0), ...left, ...right];
  return [insn(BPF_JMP_JGE_K, pivot, 0, 1), insn(BPF_JMP_JA, left.length), ...left, ...right];
}

export function compile(actions: Map<number, NrAction>, fallback: NrAction, above?: Above): Insn[] {
  return [
    insn(BPF_LD_W_ABS, SECCOMP_DATA_ARCH),
    insn(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
    insn(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
    insn(BPF_LD_W_ABS, SECCOMP_DATA_NR),
    // -1 is no syscall at all, not an x32 call: Linux answers it ENOSYS.
    insn(BPF_JMP_JEQ_K, NO_SYSCALL, 0, 1),
    insn(BPF_RET_K, fallback.ret),
    insn(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 1),
    insn(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
    ...tree(ranges(actions, fallback, above)),
  ];
}

/** sock_filter[] bytes as the kernel expects them. */
export function encode(prog: readonly Insn[]): Uint8Array {
  if (prog.length > 4096) throw new Error(`BPF program too long: ${prog.length} instructions`);
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((p, i) => {
    buf.writeUInt16LE(p.code, i * 8);
    buf.writeUInt8(p.jt, i * 8 + 2);
    buf.writeUInt8(p.jf, i * 8 + 3);
    buf.writeUInt32LE(p.k, i * 8 + 4);
  });
  return buf;
}

/**
 * The guest filter: the table's actions, ENOSYS for unknown numbers.
 * `observed`: what it would deny traps instead (tableActions), unknown numbers too.
 */
export function guestFilter(entries: readonly SyscallEntry[], observed = false): Insn[] {
  // syscall(-1) keeps ENOSYS from the program itself: it is no call at all.
  const unknown = observed ? { from: 0, action: { ret: retFor('notify') } } : undefined;
  return compile(tableActions(entries, observed), { ret: retFor('deny', 'ENOSYS') }, unknown);
}

/** An allow-list filter (used to confine the Gofer): listed numbers are
 * allowed, everything else fails with `deniedErrno`. */
export function allowListFilter(nrs: Iterable<number>, deniedErrno: ErrnoName = 'EPERM'): Insn[] {
  const actions = new Map<number, NrAction>();
  for (const nr of nrs) actions.set(nr, { ret: SECCOMP_RET_ALLOW });
  return compile(actions, { ret: retFor('deny', deniedErrno) });
}
