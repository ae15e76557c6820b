// Runs one system call in a traced guest thread stopped at a syscall-exit
// stop, then puts the thread back exactly as it was. Used to withdraw an fd
// the Sentry installed for a call that then failed in the kernel (an exec
// whose image the kernel refused): the Sentry cannot close a guest's fd
// itself, so the guest thread is made to close it.
//
// The steps are ptrace stops collected by the waiter thread, so this is a
// small state machine driven by the kernel's wait events:
//   exit stop of the failed call: registers saved, the thread's instruction
//     pointer moved back onto its `syscall` instruction with the injected
//     call's number and arguments, resumed with PTRACE_SYSCALL;
//   entry stop of the injected call: resumed with PTRACE_SYSCALL;
//   exit stop of the injected call: the saved registers (with the failed
//     call's result) restored, resumed with PTRACE_CONT.
// A signal that arrives meanwhile is held back (its delivery would run a
// handler on the injected registers) and raised again at the end.
import { PTRACE_SYSCALL_INFO_ENTRY, REG, USER_REGS_WORDS } from '../abi/linux.js';
import { native } from '../platform/native.js';

/** Length of the x86_64 `syscall` instruction. */
const SYSCALL_INSN = 2n;

export interface Injection {
  /** registers to restore when the injected call is done */
  restore: BigUint64Array;
  /** signals held back while injecting */
  deferred: number[];
}

/**
 * Starts the injection of syscall `nr(args)` into `tid`, stopped at a
 * syscall-exit stop. `restore` are the registers the thread gets back
 * afterwards. Returns null when the thread cannot be driven (it died).
 */
export function startInjection(tid: number, nr: number, args: number[], restore: BigUint64Array): Injection | null {
  const regs = new BigUint64Array(USER_REGS_WORDS);
  if (native.ptraceGetRegs(tid, regs) < 0) return null;
  regs[REG.rip] = regs[REG.rip]! - SYSCALL_INSN;
  regs[REG.rax] = BigInt(nr);
  // No restart logic may apply to the injected registers.
  regs[REG.origRax] = BigInt.asUintN(64, -1n);
  const slots = [REG.rdi, REG.rsi, REG.rdx, REG.r10, REG.r8, REG.r9];
  args.forEach((v, i) => (regs[slots[i]!] = BigInt.asUintN(64, BigInt(v))));
  if (native.ptraceSetRegs(tid, regs) < 0 || native.ptraceSyscall(tid, 0) < 0) return null;
  return { restore, deferred: [] };
}

/**
 * A syscall stop of a thread being injected into. Returns true when the
 * injection is finished (the thread was resumed with its registers restored).
 */
export function onInjectionStop(tid: number, inj: Injection): boolean {
  const info = new Float64Array(11);
  if (native.ptraceGetSyscallInfo(tid, info) < 0) return true;
  if (info[0] === PTRACE_SYSCALL_INFO_ENTRY) {
    native.ptraceSyscall(tid, 0);
    return false;
  }
  native.ptraceSetRegs(tid, inj.restore);
  native.ptraceCont(tid, 0);
  for (const sig of inj.deferred) {
    try {
      process.kill(tid, sig);
    } catch {
      /* the thread is gone */
    }
  }
  return true;
}

/** A signal-delivery stop of a thread being injected into: hold the signal back. */
export function deferSignal(tid: number, inj: Injection, sig: number): void {
  inj.deferred.push(sig);
  native.ptraceSyscall(tid, 0);
}
