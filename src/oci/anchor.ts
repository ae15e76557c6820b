// The anchor of a created container (native/anchor.c): the process its
// clients are told is the container's. `create`'s sandbox process runs as
// the child of its keeper; once the container's init exists, it asks the
// keeper for the anchor, which stands in the container's namespaces.
import fs from 'node:fs';
import { native } from '../platform/native.js';
import { RuntimeError } from './runtime.js';

export interface AnchorJoined {
  /** the anchor's pid: what state.json, --pid-file and the hooks' state report */
  pid: number;
  /**
   * Why the container's processes do not show under the anchor's /proc
   * (podman top reads them there): the errno making a procfs of its pid
   * namespace (Linux before 6.15 has no pidns option), or mounting it on
   * the root's /proc (an image without that directory). 0: they show.
   */
  procErrno: { make: number; mount: number };
}

/**
 * Asks the keeper on `ctl` (boot's --anchor-fd) for the anchor of the
 * container whose init is `initPid`, and closes `ctl`: the keeper answers
 * once. Throws a RuntimeError when the anchor could not be made.
 */
export function makeAnchor(ctl: number, initPid: number): AnchorJoined {
  const pidfd = native.pidfdOpen(initPid, 0);
  let pidns = -1;
  try {
    if (pidfd < 0) throw new RuntimeError(`the container's init (pid ${initPid}) is gone`);
    pidns = fs.openSync(`/proc/${initPid}/ns/pid`, 'r');
    if (native.sendMsg(ctl, Buffer.from('J'), 1, [pidfd, pidns]) < 0) throw new RuntimeError('the anchor keeper went away');
    const buf = new Uint8Array(512);
    const n = native.recvMsg(ctl, buf, new Int32Array(0), 10000);
    if (n <= 0) throw new RuntimeError(`the anchor keeper did not answer${n < 0 ? ` (errno ${-n})` : ''}`);
    const reply = Buffer.from(buf.buffer, 0, n);
    if (reply[0] === 0x45 /* E */) throw new RuntimeError(`cannot anchor the container: ${reply.subarray(1).toString()}`);
    if (reply[0] !== 0x4b /* K */ || n !== 13) throw new RuntimeError('the anchor keeper answered nonsense');
    return { pid: reply.readInt32LE(1), procErrno: { make: reply.readInt32LE(5), mount: reply.readInt32LE(9) } };
  } finally {
    if (pidfd >= 0) native.close(pidfd);
    if (pidns >= 0) fs.closeSync(pidns);
    native.close(ctl);
  }
}
