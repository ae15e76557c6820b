// Runs system calls in a traced guest thread stopped just after a system
// call (at its exit stop, or a new task at its first stop, whose clone just
// returned), then puts the thread back exactly as it was. Used to withdraw
// an fd the Sentry installed for a call that then failed in the kernel (an
// exec whose image the kernel refused): the Sentry cannot close a guest's fd
// itself, so the guest thread is made to close it; and to reset a new
// child's signal handlers (clone3's CLONE_CLEAR_SIGHAND).
//
// The steps are ptrace stops collected by the waiter thread, so this is a
// small state machine driven by the kernel's wait events:
//   exit stop of the failed call: registers saved, the thread's instruction
//     pointer moved back onto its `syscall` instruction with the injected
//     call's number and arguments, resumed with PTRACE_SYSCALL;
//   entry stop of the injected call: resumed with PTRACE_SYSCALL;
//   exit stop of the injected call: the next call set up the same way, or
//     after the last the saved registers (with the failed call's result)
//     restored, resumed with PTRACE_CONT.
// A signal that arrives meanwhile is held back (its delivery would run a
// handler on the injected registers) and raised again at the end.
import { PTRACE_SYSCALL_INFO_ENTRY, REG, USER_REGS_WORDS } from '../abi/linux.js';
import { native } from '../platform/native.js';

/** Length of the x86_64 `syscall` instruction. */
const SYSCALL_INSN = 2n;
/** The x86_64 `syscall` instruction. */
const SYSCALL_BYTES = Buffer.from([0x0f, 0x05]);

/** A system call to run in a guest thread: its number and arguments. */
export interface InjectedCall {
  nr: number;
  args: number[];
}

export interface Injection {
  /** registers to restore when the injected calls are done */
  restore: BigUint64Array;
  /** calls still to run after the current one */
  queue: InjectedCall[];
  /** signals held back while injecting */
  deferred: number[];
}

/**
 * Points the stopped thread's `syscall` instruction at `call` and resumes it
 * to the call's entry stop. False when the thread is gone, or when no
 * `syscall` instruction precedes its instruction pointer: an exec that failed
 * past its point of no return left it an empty address space, and the kernel
 * is ending it with SIGSEGV.
 */
function setUp(tid: number, call: InjectedCall): boolean {
  const regs = new BigUint64Array(USER_REGS_WORDS);
  if (native.ptraceGetRegs(tid, regs) < 0) return false;
  const insn = Buffer.alloc(Number(SYSCALL_INSN));
  if (native.memRead(tid, Number(regs[REG.rip]! - SYSCALL_INSN), insn, 0, insn.length) !== insn.length || !insn.equals(SYSCALL_BYTES)) return false;
  regs[REG.rip] = regs[REG.rip]! - SYSCALL_INSN;
  regs[REG.rax] = BigInt(call.nr);
  // No restart logic may apply to the injected registers.
  regs[REG.origRax] = BigInt.asUintN(64, -1n);
  const slots = [REG.rdi, REG.rsi, REG.rdx, REG.r10, REG.r8, REG.r9];
  call.args.forEach((v, i) => (regs[slots[i]!] = BigInt.asUintN(64, BigInt(v))));
  return native.ptraceSetRegs(tid, regs) >= 0 && native.ptraceSyscall(tid, 0) >= 0;
}

/**
 * Starts the injection of `calls` (at least one), in order, into `tid`,
 * stopped just after a system call. `restore` are the registers the thread
 * gets back afterwards. Returns null when the thread cannot be driven (see
 * setUp); it is left stopped, for the caller to resume.
 */
export function startInjection(tid: number, calls: InjectedCall[], restore: BigUint64Array): Injection | null {
  const [first, ...queue] = calls;
  if (!first || !setUp(tid, first)) return null;
  return { restore, queue, deferred: [] };
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
  const next = inj.queue.shift();
  if (next && setUp(tid, next)) return false;
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
