// Terminals: a sandbox sends the pty master of a process with a terminal to
// a console socket (runc's --console-socket protocol, src/oci/terminal.ts);
// the shim receives it, copies between it and containerd's fifos (output
// and, when given, input), and resizes it for ResizePty.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tty from 'node:tty';
import { native } from '../platform/native.js';

/** How long a connected sandbox may take to send the master. */
const SEND_WAIT_MS = 5000;

export interface ConsoleSocket {
  path: string;
  /** the master, once the sandbox sent it */
  master: Promise<number>;
  close(): void;
}

/** A console socket (root only) in `dir`, for one pty master. */
export async function consoleSocket(dir: string): Promise<ConsoleSocket> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p = path.join(dir, `console-${randomBytes(8).toString('hex')}.sock`);
  // Paused: Node must not read the connection, or the fd passed with the first byte is lost.
  const server = net.createServer({ pauseOnConnect: true });
  const close = () => {
    server.close();
    fs.rmSync(p, { force: true });
  };
  const master = new Promise<number>((resolve, reject) => {
    server.once('connection', (sock) => {
      const fd = (sock as unknown as { _handle: { fd: number } })._handle.fd;
      const fds = new Int32Array([-1]);
      const n = native.recvMsg(fd, new Uint8Array(256), fds, SEND_WAIT_MS);
      sock.destroy();
      close();
      if (n <= 0 || fds[0]! < 0) reject(new Error('the sandbox sent no terminal'));
      else resolve(fds[0]!);
    });
  });
  // Unhandled until the caller awaits it (after the sandbox answered).
  master.catch(() => {});
  const mask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, resolve);
    });
  } finally {
    process.umask(mask);
  }
  return { path: p, master, close };
}

/** A process's terminal as the shim holds it: the master, copied to and from containerd's fifos. */
export class Terminal {
  private readonly input: net.Socket | undefined;

  constructor(
    private readonly master: number,
    output: number,
    input: number | undefined,
  ) {
    const out = new net.Socket({ fd: output, readable: false, writable: true });
    out.on('error', () => out.destroy());
    const fromMaster = new tty.ReadStream(master);
    // EIO once the last slave is closed: the process and its sandbox are done.
    fromMaster.on('error', () => out.end());
    fromMaster.pipe(out);
    if (input !== undefined) {
      const toMaster = new tty.WriteStream(master);
      toMaster.on('error', () => toMaster.destroy());
      this.input = new net.Socket({ fd: input, readable: true, writable: false });
      this.input.on('error', () => this.input?.destroy());
      this.input.pipe(toMaster);
    }
  }

  resize(height: number, width: number): void {
    native.ttySetSize(this.master, height, width);
  }

  closeInput(): void {
    this.input?.destroy();
  }
}
