// Runs system calls in a traced guest thread stopped just after a system
// call (at its exit stop, or a new task at its first stop, whose clone just
// returned), or anywhere (an interrupt stop: a `syscall` instruction of the
// vDSO then serves), then puts the thread back exactly as it was. Used to
// withdraw an fd the Sentry installed for a call that then failed in the
// kernel (an exec whose image the kernel refused), or that a table other
// processes share keeps after an exec (exec.ts closeStale): the Sentry
// cannot close a guest's fd itself, so a guest thread is made to close it;
// and to reset a new child's signal handlers (clone3's CLONE_CLEAR_SIGHAND).
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
import fs from 'node:fs';
import { PTRACE_SYSCALL_INFO_ENTRY, REG, USER_REGS_WORDS } from '../abi/linux.js';
import { native } from '../platform/native.js';
import { NUMBERS } from '../syscalls/table.js';

const NR_RESTART_SYSCALL = NUMBERS['restart_syscall']!;
/** The kernel's restart codes, which a thread interrupted in a call shows in rax until the kernel restarts it: ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK. */
const ERESTART_RESTARTBLOCK = -516n;
const RESTARTS = new Set([-512n, -513n, -514n, ERESTART_RESTARTBLOCK]);

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
function setUp(tid: number, call: InjectedCall, anywhere = false): boolean {
  const regs = new BigUint64Array(USER_REGS_WORDS);
  if (native.ptraceGetRegs(tid, regs) < 0) return false;
  const insn = Buffer.alloc(Number(SYSCALL_INSN));
  let at: bigint | null = regs[REG.rip]! - SYSCALL_INSN;
  if (native.memRead(tid, Number(at), insn, 0, insn.length) !== insn.length || !insn.equals(SYSCALL_BYTES)) at = anywhere ? vdsoSyscall(tid) : null;
  if (at === null) return false;
  regs[REG.rip] = at;
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
export function startInjection(tid: number, calls: InjectedCall[], restore: BigUint64Array, anywhere = false): Injection | null {
  const [first, ...queue] = calls;
  if (!first || !setUp(tid, first, anywhere)) return null;
  return { restore, queue, deferred: [] };
}

/** The address of a `syscall` instruction in the thread's vDSO, or null (none mapped). */
function vdsoSyscall(tid: number): bigint | null {
  let maps: string;
  try {
    maps = fs.readFileSync(`/proc/${tid}/maps`, 'latin1');
  } catch {
    return null;
  }
  const m = /^([0-9a-f]+)-([0-9a-f]+) r-xp .*\[vdso\]$/m.exec(maps);
  if (!m) return null;
  const start = parseInt(m[1]!, 16);
  const image = Buffer.alloc(parseInt(m[2]!, 16) - start);
  const n = native.memRead(tid, start, image, 0, image.length);
  const i = image.subarray(0, Math.max(0, n)).indexOf(SYSCALL_BYTES);
  return i < 0 ? null : BigInt(start + i);
}

/** Whether a call's result is one of the kernel's restart codes: the call was interrupted before it ran, and is run again. */
export function isRestart(result: bigint): boolean {
  return RESTARTS.has(result);
}

/**
 * The registers of a thread at an interrupt stop, made to resume it as the
 * kernel would with no signal to handle: a call it was interrupted in
 * (rax one of the restart codes, not yet applied at that stop) is run
 * again. Injected calls run in between reset the state the kernel's own
 * restart would have read.
 */
export function restartedRegs(regs: BigUint64Array): BigUint64Array {
  const r = regs.slice();
  const code = BigInt.asIntN(64, r[REG.rax]!);
  if (BigInt.asIntN(64, r[REG.origRax]!) >= 0n && isRestart(code)) {
    r[REG.rax] = code === ERESTART_RESTARTBLOCK ? BigInt(NR_RESTART_SYSCALL) : r[REG.origRax]!;
    r[REG.rip] = r[REG.rip]! - SYSCALL_INSN;
  }
  return r;
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
