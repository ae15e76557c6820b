// Files whose contents the Sentry makes (procfs, the cgroup view,
// oom_score_adj) are memfds holding those contents, which the caller reopens
// with the guest's flags: the guest then reads, seeks and polls a real file.
import fs from 'node:fs';
import { MFD_CLOEXEC } from '../abi/linux.js';
import { native } from '../platform/native.js';
import { ownFd } from './errors.js';

/** A memfd named `name` holding `data` (a string as latin1): the caller owns it. */
export function memfdHolding(name: string, data: Buffer | string): number {
  const m = ownFd(native.memfdCreate(name, MFD_CLOEXEC));
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    if (buf.length) fs.writeSync(m, buf, 0, buf.length, 0);
    return m;
  } catch (e) {
    native.close(m);
    throw e;
  }
}
