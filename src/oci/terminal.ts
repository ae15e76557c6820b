// OCI terminals (process.terminal with --console-socket): a pty from the
// sandbox's own devpts (the Gofer's private instance, the one the guest
// sees as /dev/pts), its master sent to the client's socket as runc does,
// its slave the process's stdio and controlling terminal.
import { O_NOCTTY, O_RDWR } from '../abi/linux.js';
import type { GoferClient } from '../gofer/client.js';
import { native } from '../platform/native.js';
import { RuntimeError } from './runtime.js';

/** Returns the slave's fd and its pts number. */
export function allocateTerminal(gofer: GoferClient, consoleSocket: string, size?: { height: number; width: number }): { fd: number; pts: number } {
  const master = gofer.device('ptmx', O_RDWR | O_NOCTTY);
  if (typeof master === 'number') throw new RuntimeError(`cannot open a terminal: errno ${-master}`);
  try {
    const n = native.ptyUnlock(master.fd);
    if (n < 0) throw new RuntimeError(`cannot unlock the terminal: errno ${-n}`);
    if (size && size.height > 0 && size.width > 0) native.ttySetSize(master.fd, size.height, size.width);
    const slave = gofer.device(`pts/${n}`, O_RDWR | O_NOCTTY);
    if (typeof slave === 'number') throw new RuntimeError(`cannot open the terminal pts/${n}: errno ${-slave}`);
    const r = native.sendFdTo(consoleSocket, master.fd, '/dev/ptmx');
    if (r < 0) {
      native.close(slave.fd);
      throw new RuntimeError(`--console-socket ${consoleSocket}: cannot send the terminal: errno ${-r}`);
    }
    return { fd: slave.fd, pts: n };
  } finally {
    native.close(master.fd);
  }
}
