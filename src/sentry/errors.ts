// Syscall failures inside the Sentry are thrown as SysErr and turned into
// -errno by the dispatcher. SysErr is not an Error: no stack trace is
// captured, so failing lookups (frequent: every PATH or sys.path probe) stay cheap.
import os from 'node:os';
import { ERRNO, type ErrnoName } from '../abi/errno.js';

export class SysErr {
  constructor(readonly errno: number) {}
}

const cache = new Map<number, SysErr>();

export function sysErr(errno: number): SysErr {
  let e = cache.get(errno);
  if (!e) cache.set(errno, (e = new SysErr(errno)));
  return e;
}

export function fail(name: ErrnoName): never {
  throw sysErr(ERRNO[name]);
}

/** Throws for a negative errno returned by a native call; passes values through. */
export function check(r: number): number {
  if (r < 0) throw sysErr(-r);
  return r;
}

/** A sandbox that cannot be set up or run; the message is for the user. */
export class SandboxError extends Error {}

/** Start-up given up because tsvisor received a terminating signal; what was started is gone. */
export class StartAborted extends SandboxError {
  constructor(readonly signal: number) {
    super(`stopped by ${signalName(signal)} while the sandbox was starting`);
  }
}

/** "SIGTERM" for 15. */
export function signalName(sig: number): string {
  return Object.entries(os.constants.signals).find(([, n]) => n === sig)?.[0] ?? `signal ${sig}`;
}

/**
 * check() for a call that makes an fd of the Sentry's own: the Sentry running
 * out of fds is the system's file table being full for the guest (ENFILE),
 * never its own table (EMFILE, which the guest may act on wrongly).
 */
export function ownFd(r: number): number {
  if (r === -ERRNO.EMFILE) throw sysErr(ERRNO.ENFILE);
  return check(r);
}
