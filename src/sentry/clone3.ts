// clone3 as clone. clone3 passes its flags in memory (struct clone_args),
// where the filter cannot see them and another guest thread could change
// them after the Sentry looked; clone passes them in registers. At clone3's
// trace stop the Sentry copies the struct once, applies the same rules as
// the filter applies to clone (no new namespaces; CLONE_UNTRACED cleared),
// and rewrites the call into the equivalent clone. CLONE_CLEAR_SIGHAND, which
// clone cannot express, is done by the Sentry in the child before it runs:
// the child is made to reset each handler it inherited (inject.ts), as
// Linux's flush_signal_handlers does for the handlers /proc shows as caught.
// Other calls clone cannot express (a pidfd together with a parent tid,
// set_tid, CLONE_INTO_CGROUP) fail with ENOSYS, as clone3 did before: the
// caller falls back to clone itself.
//
// The rewrite changes the argument registers, which the caller may expect
// back unchanged (glibc's clone3 wrapper keeps the thread function and its
// argument in rdx and r8 across the call, for the child), so the original
// registers are put back in the parent at its fork event (or at the call's
// exit stop if it failed) and in the child at its first stop, before it runs.
import { CLONE_PARENT, CLONE_PARENT_SETTID, CLONE_PIDFD, CLONE_SIGHAND, CLONE_THREAD, CLONE_UNTRACED, REG, USER_REGS_WORDS } from '../abi/linux.js';
import { native } from '../platform/native.js';
import type { InjectedCall } from './inject.js';
import { NUMBERS } from '../syscalls/table.js';
import { sysErr } from './errors.js';
import { ERRNO } from '../abi/errno.js';

const NR_CLONE = NUMBERS['clone']!;
const NR_RT_SIGACTION = NUMBERS['rt_sigaction']!;
/** the kernel's struct sigaction: handler, flags, restorer, mask */
const SIGACTION_SIZE = 32;
const SIGSET_SIZE = 8;
const RED_ZONE = 128n;
/** struct clone_args up to and including cgroup (CLONE_ARGS_SIZE_VER2). */
const ARGS_SIZE = 88;
const ARGS_SIZE_VER0 = 64;
const CLONE_CLEAR_SIGHAND = 0x100000000n;
const CLONE_INTO_CGROUP = 0x200000000n;
const LEGACY_FLAGS = 0xffffffffn;
/** Bits clone3 refuses: CLONE_DETACHED and CSIGNAL but CLONE_NEWTIME (the signal has a field of its own). */
const INVALID_FLAGS = 0x400000n | 0x7fn;
/** Namespace flags, CLONE_NEWTIME included: refused with EPERM, as the filter refuses them for clone. */
const NAMESPACE_FLAGS = 0x7e020080n;
const ARG_SLOTS = [REG.rdi, REG.rsi, REG.rdx, REG.r10, REG.r8, REG.r9];

/** The clone registers for a struct clone_args, or throws the errno clone3 gives. */
export function translate(args: Buffer): { rdi: bigint; rsi: bigint; rdx: bigint; r10: bigint; r8: bigint; clearSighand: boolean } {
  const u64 = (off: number) => args.readBigUInt64LE(off);
  let flags = u64(0);
  const exitSignal = u64(32);
  const stack = u64(40);
  const stackSize = u64(48);
  if (flags & ~(LEGACY_FLAGS | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP) || flags & INVALID_FLAGS) throw sysErr(ERRNO.EINVAL);
  if ((flags & BigInt(CLONE_SIGHAND)) && flags & CLONE_CLEAR_SIGHAND) throw sysErr(ERRNO.EINVAL);
  // A sibling or a thread reports to the caller's parent, or to no one: a signal of its own is refused.
  if (flags & BigInt(CLONE_THREAD | CLONE_PARENT) && exitSignal !== 0n) throw sysErr(ERRNO.EINVAL);
  if (exitSignal > 64n) throw sysErr(ERRNO.EINVAL);
  if ((stack === 0n) !== (stackSize === 0n)) throw sysErr(ERRNO.EINVAL);
  if (flags & NAMESPACE_FLAGS) throw sysErr(ERRNO.EPERM);
  if (u64(72) !== 0n) throw sysErr(ERRNO.EPERM); // set_tid: needs CAP_SYS_ADMIN over the pid namespace
  const pidfdAndTid = (flags & BigInt(CLONE_PIDFD)) !== 0n && (flags & BigInt(CLONE_PARENT_SETTID)) !== 0n;
  if (flags & CLONE_INTO_CGROUP || pidfdAndTid) throw sysErr(ERRNO.ENOSYS);
  const clearSighand = (flags & CLONE_CLEAR_SIGHAND) !== 0n;
  flags &= LEGACY_FLAGS & ~BigInt(CLONE_UNTRACED);
  return {
    clearSighand,
    rdi: flags | exitSignal,
    rsi: stack === 0n ? 0n : stack + stackSize,
    rdx: flags & BigInt(CLONE_PIDFD) ? u64(8) : u64(24),
    r10: u64(16),
    r8: u64(56),
  };
}

/**
 * Reads struct clone_args (size bytes at addr, as clone3 would: at least
 * VER0, anything past what Linux knows must be zero) and rewrites the
 * stopped call into clone. Returns the thread's original registers, and
 * whether the child must reset its signal handlers (CLONE_CLEAR_SIGHAND).
 */
export function rewriteClone3(tid: number, args: Buffer): { saved: BigUint64Array; clearSighand: boolean } {
  if (args.length < ARGS_SIZE_VER0) throw sysErr(ERRNO.EINVAL);
  if (args.subarray(ARGS_SIZE).some((b) => b !== 0)) throw sysErr(ERRNO.E2BIG);
  const full = Buffer.alloc(ARGS_SIZE);
  args.copy(full, 0, 0, Math.min(args.length, ARGS_SIZE));
  const c = translate(full);
  const regs = new BigUint64Array(USER_REGS_WORDS);
  if (native.ptraceGetRegs(tid, regs) < 0) throw sysErr(ERRNO.ESRCH);
  const saved = regs.slice();
  regs[REG.origRax] = BigInt(NR_CLONE);
  regs[REG.rdi] = c.rdi;
  regs[REG.rsi] = c.rsi;
  regs[REG.rdx] = c.rdx;
  regs[REG.r10] = c.r10;
  regs[REG.r8] = c.r8;
  if (native.ptraceSetRegs(tid, regs) < 0) throw sysErr(ERRNO.ESRCH);
  return { saved, clearSighand: c.clearSighand };
}

/**
 * The calls a new child (stopped before its first instruction) runs to
 * reset the handlers it inherited, `caught` (a SigCgt mask), to SIG_DFL:
 * rt_sigaction(sig, &zeroed, NULL, 8) each. The zeroed struct sigaction is
 * written below the child's stack pointer, past the red zone: memory the
 * child does not use yet (its own copy after a fork; with CLONE_VM, the
 * stack clone3 gave it). Empty when the struct cannot be written.
 */
export function clearSighandCalls(tid: number, caught: bigint): InjectedCall[] {
  const regs = new BigUint64Array(USER_REGS_WORDS);
  if (caught === 0n || native.ptraceGetRegs(tid, regs) < 0) return [];
  const act = Number((regs[REG.rsp]! - RED_ZONE - BigInt(SIGACTION_SIZE)) & ~15n);
  if (native.memWrite(tid, act, Buffer.alloc(SIGACTION_SIZE), 0, SIGACTION_SIZE) !== SIGACTION_SIZE) return [];
  const calls: InjectedCall[] = [];
  for (let sig = 1; sig <= 64; sig++) {
    if (caught & (1n << BigInt(sig - 1))) calls.push({ nr: NR_RT_SIGACTION, args: [sig, act, 0, SIGSET_SIZE] });
  }
  return calls;
}

/** Puts a thread's original argument registers back (everything else as it is now). */
export function restoreArgs(tid: number, saved: BigUint64Array): void {
  const regs = new BigUint64Array(USER_REGS_WORDS);
  if (native.ptraceGetRegs(tid, regs) < 0) return;
  for (const r of ARG_SLOTS) regs[r] = saved[r]!;
  native.ptraceSetRegs(tid, regs);
}
