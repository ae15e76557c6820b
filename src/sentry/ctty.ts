// tty_open's rule for the terminals the Sentry opens: a session leader
// without a controlling terminal that opens a terminal without O_NOCTTY, for
// reading, makes it its controlling terminal (if no session has it). The
// Gofer opens every device with O_NOCTTY, and only the guest itself can take
// a terminal, so the thread is made to call ioctl(fd, TIOCSCTTY, 0) as it
// returns from the open: TIOCSCTTY with argument 0 succeeds under exactly
// tty_open's conditions (the sandbox holds no CAP_SYS_ADMIN over the host,
// which would let it take a write-only terminal).
//
// The thread is interrupted (PTRACE_INTERRUPT) while it waits for the
// Sentry's answer: the wait holds signals back (WAIT_KILLABLE_RECV), so the
// interrupt only marks it, and it stops as it returns from the open, before
// its next instruction, with the open's result in its registers. There the
// ioctl is run in it (inject.ts) and it gets its registers back.
import fs from 'node:fs';
import { REG, TIOCSCTTY, USER_REGS_WORDS } from '../abi/linux.js';
import { native } from '../platform/native.js';
import { NUMBERS } from '../syscalls/table.js';
import { startInjection } from './inject.js';
import type { Task } from './task.js';

const NR_IOCTL = NUMBERS['ioctl']!;

/** The task's process leads its session and has no controlling terminal (fields of /proc/<tid>/stat). */
function leaderWithoutTty(t: Task): boolean {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${t.tid}/stat`, 'latin1');
  } catch {
    return false;
  }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[3]) === t.proc.tgid && Number(f[4]) === 0;
}

/**
 * Called before the answer to an open that installs a terminal: when the
 * caller may take it, the thread will stop as it returns (see onReturnStop).
 */
export function takeTerminalOnReturn(t: Task): void {
  if (!leaderWithoutTty(t) || native.ptraceInterrupt(t.tid) < 0) return;
  t.takesTerminal = true;
}

/**
 * The stop after such an open: with the open's fd, the thread calls
 * TIOCSCTTY on it (its result is not the guest's; the open's stays). Returns
 * false when there is nothing to run (the open failed, the thread is gone):
 * the caller resumes the thread.
 */
export function onReturnStop(t: Task): boolean {
  t.takesTerminal = false;
  const regs = new BigUint64Array(USER_REGS_WORDS);
  if (native.ptraceGetRegs(t.tid, regs) < 0) return false;
  const fd = Number(BigInt.asIntN(64, regs[REG.rax]!));
  if (fd < 0) return false;
  t.injection = startInjection(t.tid, [{ nr: NR_IOCTL, args: [fd, TIOCSCTTY, 0] }], regs) ?? undefined;
  return t.injection !== undefined;
}
