// setns. The guest never joins another namespace (the launcher placed it in
// the sandbox's; see syscall-tables), but it gets Linux's errors for the
// checks Linux makes before the privilege check: EBADF for a bad fd, EINVAL
// for an fd that is neither a pidfd nor a namespace file (the sandbox opens
// no namespace files) or for flags that name no namespace, ESRCH for a
// pidfd whose process has exited; then EPERM, the deliberate difference.
import fs from 'node:fs';
import {
  CLONE_NEWCGROUP,
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWTIME,
  CLONE_NEWUSER,
  CLONE_NEWUTS,
  PIDFS_MAGIC,
} from '../../abi/linux.js';
import { native } from '../../platform/native.js';
import { fail } from '../errors.js';
import type { Handler } from './dispatch.js';

const NAMESPACE_FLAGS =
  CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWUSER | CLONE_NEWCGROUP | CLONE_NEWTIME;

/** Whether the process behind pidfd `fd` (the Sentry's copy) has exited: reaped, or a zombie. */
function pidfdExited(fd: number): boolean {
  try {
    const pid = /^Pid:\s*(-?\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'))?.[1];
    if (pid === undefined || Number(pid) <= 0) return true;
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

export const nsHandlers: Record<string, Handler> = {
  setns: (k, t, a) => {
    const flags = a.int(1);
    const id = k.files.identify(t, a.int(0));
    try {
      const sfs = new Float64Array(12);
      if (native.fstatfsFd(id.fd, sfs) < 0 || sfs[0] !== PIDFS_MAGIC) fail('EINVAL');
      if (flags === 0 || flags & ~NAMESPACE_FLAGS) fail('EINVAL');
      if (pidfdExited(id.fd)) fail('ESRCH');
    } finally {
      native.close(id.fd);
    }
    k.access?.refuse('setns');
    fail('EPERM');
  },
};
