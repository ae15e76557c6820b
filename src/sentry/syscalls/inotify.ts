// inotify_init, inotify_init1, inotify_add_watch, inotify_rm_watch. The
// instance and its events are the Sentry's (src/sentry/inotify/); reads,
// polls and FIONREAD on the guest's fd run on the host (fdctl.ts).
import { ALL_INOTIFY_BITS, AT_FDCWD, IN_CLOEXEC, IN_DONT_FOLLOW, IN_MASK_ADD, IN_MASK_CREATE, IN_NONBLOCK, IN_ONLYDIR, R_OK } from '../../abi/linux.js';
import { ERRNO } from '../../abi/errno.js';
import { native } from '../../platform/native.js';
import type { SyscallArgs } from '../../platform/notif.js';
import { requireAccess } from '../creds.js';
import { fail } from '../errors.js';
import type { Instance } from '../inotify/watches.js';
import type { Kernel } from '../kernel.js';
import type { Task } from '../task.js';
import type { Handler } from './dispatch.js';
import { installFd, resolveAt } from './common.js';

function init(k: Kernel, a: SyscallArgs, flags: number): number {
  if (flags & ~(IN_NONBLOCK | IN_CLOEXEC)) fail('EINVAL');
  return installFd(k, a, k.inotify.create(flags), null, (flags & IN_CLOEXEC) !== 0);
}

/** Runs `fn` with the instance behind guest fd `fd` (EBADF, or EINVAL for another kind of fd). */
function withInstance<T>(k: Kernel, t: Task, fd: number, fn: (inst: Instance) => T): T {
  if (fd < 0) fail('EBADF');
  const copy = native.pidfdGetfd(t.proc.pidfd(), fd);
  if (copy === -ERRNO.EMFILE) fail('ENFILE');
  if (copy < 0) fail('EBADF');
  try {
    return fn(k.inotify.instance(copy));
  } finally {
    native.close(copy);
  }
}

function addWatch(k: Kernel, t: Task, fd: number, pathAddr: number, mask: number): number {
  if (!(mask & ALL_INOTIFY_BITS)) fail('EINVAL');
  if (mask & IN_MASK_ADD && mask & IN_MASK_CREATE) fail('EINVAL');
  return withInstance(k, t, fd, (inst) => {
    const loc = resolveAt(k, t, AT_FDCWD, pathAddr, !(mask & IN_DONT_FOLLOW))!;
    const node = loc.dentry.node;
    if (mask & IN_ONLYDIR && !node.isDir()) fail('ENOTDIR');
    const st = node.stat();
    requireAccess(t.creds, node, st, R_OK);
    return k.inotify.addWatch(inst, node, mask);
  });
}

export const inotifyHandlers: Record<string, Handler> = {
  inotify_init: (k, _t, a) => init(k, a, 0),
  inotify_init1: (k, _t, a) => init(k, a, a.int(0)),
  inotify_add_watch: (k, t, a) => addWatch(k, t, a.int(0), a.long(1), a.u32(2)),
  inotify_rm_watch: (k, t, a) =>
    withInstance(k, t, a.int(0), (inst) => {
      k.inotify.rmWatch(inst, a.int(1));
      return 0;
    }),
};
