// The stdio containerd hands a task or an exec: paths of fifos it reads
// (stdout, stderr) and writes (stdin) and has opened already, or a file://
// URI; none means /dev/null. The shim opens them and gives the fds to the
// sandbox as the process's own stdio: no copying through the shim.
import fs from 'node:fs';
import { O_RDONLY, O_WRONLY } from '../abi/linux.js';
import { native } from '../platform/native.js';
import { RpcError, Code } from './ttrpc.js';

export interface StdioPaths {
  stdin: string;
  stdout: string;
  stderr: string;
}

/** How long to wait for containerd's end of an output fifo. */
const READER_WAIT_MS = 10000;

/**
 * An output fifo opened for writing, without blocking the event loop while
 * its reader is absent: O_NONBLOCK until containerd's end is there (ENXIO
 * before), then reopened without it (the guest's writes must block when
 * the pipe is full, not fail).
 */
export async function openOutput(p: string): Promise<number> {
  if (p.startsWith('file://')) return fs.openSync(new URL(p), 'a');
  if (/^[a-z]+:\/\//.test(p)) throw new RpcError(Code.InvalidArgument, `stdio ${p}: only fifos and file:// URIs are supported`);
  const deadline = Date.now() + READER_WAIT_MS;
  for (;;) {
    let fd: number;
    try {
      fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > deadline) throw new RpcError(Code.FailedPrecondition, `stdio ${p}: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    const blocking = native.reopen(fd, O_WRONLY);
    fs.closeSync(fd);
    if (blocking < 0) throw new RpcError(Code.FailedPrecondition, `stdio ${p}: cannot reopen it (errno ${-blocking})`);
    return blocking;
  }
}

/** An input fifo opened for reading: through a read-write open, which never waits for a writer. */
export function openInput(p: string): number {
  if (p.startsWith('file://')) return fs.openSync(new URL(p), 'r');
  const both = fs.openSync(p, fs.constants.O_RDWR);
  const fd = native.reopen(both, O_RDONLY);
  fs.closeSync(both);
  if (fd < 0) throw new RpcError(Code.FailedPrecondition, `stdio ${p}: cannot reopen it (errno ${-fd})`);
  return fd;
}

/** Opens the three; on failure closes what was opened. */
export async function openStdio(p: StdioPaths): Promise<[number, number, number]> {
  const fds: number[] = [];
  try {
    fds.push(p.stdin ? openInput(p.stdin) : fs.openSync('/dev/null', 'r'));
    for (const out of [p.stdout, p.stderr]) fds.push(out ? await openOutput(out) : fs.openSync('/dev/null', 'w'));
    return fds as [number, number, number];
  } catch (e) {
    closeAll(fds);
    throw e;
  }
}

export function closeAll(fds: readonly number[]): void {
  for (const fd of fds) fs.closeSync(fd);
}
