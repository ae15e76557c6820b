// The control socket of a running container: the sandbox process (the
// Sentry, started by `create`) listens on <root>/<id>/control.sock; the
// short-lived commands (start, kill, ps) send it one JSON request per
// connection and read one JSON reply. Only root can reach it: the
// container directory is 0711 and the socket 0600.
import fs from 'node:fs';
import net from 'node:net';
import type { Capabilities } from '../sentry/spec.js';
import type { ProcessConfig } from './spec.js';

export type ControlRequest =
  | { op: 'start' }
  /** direct: bin/tsvisor's, for a created or running container only (anything else is left to the Node command) */
  | { op: 'kill'; signal: number; all: boolean; direct?: boolean }
  | { op: 'ps' }
  /**
   * run `process` with the stdio of host process `pid`: its fds 0, 1, 2 (the
   * exec command's), or those numbered `fds` (the containerd shim's copies of
   * containerd's fifos); replies twice: started, then ended
   */
  | { op: 'exec'; pid: number; fds?: [number, number, number]; process: ExecProcess; consoleSocket?: string };

export interface ExecProcess {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  umask?: number;
  capabilities: Capabilities;
  noNewPrivileges: boolean;
  terminal: boolean;
  consoleSize?: { height: number; width: number };
}

/** What an exec request carries of an OCI process (process.json, or the spec containerd's Exec gives). */
export function execProcessOf(p: ProcessConfig): ExecProcess {
  return {
    args: p.args,
    env: p.env,
    cwd: p.cwd,
    uid: p.uid,
    gid: p.gid,
    additionalGids: p.additionalGids,
    umask: p.umask,
    capabilities: p.capabilities,
    noNewPrivileges: p.noNewPrivileges,
    terminal: p.terminal,
    consoleSize: p.consoleSize,
  };
}

export type ControlReply = { ok: true; pids?: number[]; pid?: number; status?: number } | { ok: false; error: string };

/** The sandbox process cannot be reached: it is gone (the container stopped) or never came up. */
export class ControlUnreachable extends Error {}

const MAX_MESSAGE = 1 << 16;

/**
 * A socket path that fits sun_path (108 bytes) however deep the state
 * directory is (Docker's are ~110 bytes): through an fd of the directory.
 */
function shortPath(path: string): { path: string; close: () => void } {
  const slash = path.lastIndexOf('/');
  const dirFd = fs.openSync(path.slice(0, slash) || '/', 'r');
  return { path: `/proc/self/fd/${dirFd}${path.slice(slash)}`, close: () => fs.closeSync(dirFd) };
}

function readLine(sock: net.Socket, onLine: (line: string) => void): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    const nl = buf.indexOf('\n');
    if (nl >= 0) {
      sock.removeAllListeners('data');
      onLine(buf.slice(0, nl));
    } else if (buf.length > MAX_MESSAGE) {
      sock.destroy();
    }
  });
}

/**
 * A handler answers with one reply, or with a promise of the last reply
 * after sending earlier ones through `send` (exec: started, then ended).
 */
export type ControlHandler = (req: ControlRequest, send: (r: ControlReply) => void) => ControlReply | Promise<ControlReply>;

const errorReply = (e: unknown): ControlReply => ({ ok: false, error: e instanceof Error ? e.message : String(e) });

/** Serves requests on `path` (replacing a stale socket file); resolves once listening. */
export function serveControl(path: string, handle: ControlHandler): Promise<net.Server> {
  fs.rmSync(path, { force: true });
  const server = net.createServer((sock) => {
    sock.on('error', () => sock.destroy());
    readLine(sock, (line) => {
      const send = (r: ControlReply) => {
        if (!sock.destroyed) sock.write(`${JSON.stringify(r)}\n`);
      };
      let reply: ControlReply | Promise<ControlReply>;
      try {
        reply = handle(JSON.parse(line) as ControlRequest, send);
      } catch (e) {
        reply = errorReply(e);
      }
      Promise.resolve(reply)
        .catch(errorReply)
        .then((r) => {
          if (!sock.destroyed) sock.end(`${JSON.stringify(r)}\n`);
        });
    });
  });
  const short = shortPath(path);
  const mask = process.umask(0o177);
  try {
    server.listen(short.path);
  } finally {
    process.umask(mask);
  }
  return new Promise((resolve, reject) => {
    server.on('listening', () => {
      short.close();
      resolve(server);
    });
    server.on('error', (e) => {
      short.close();
      reject(new Error(`control socket ${path}: ${e.message}`));
    });
  });
}

/** Sends one request and reads one reply; rejects with ControlUnreachable when nothing listens. */
export function request(path: string, req: ControlRequest, timeoutMs = 10000): Promise<ControlReply> {
  return converse(path, req, () => true, timeoutMs);
}

/**
 * Sends one request and passes each reply to `onReply` until it returns
 * true (the conversation is over), resolving with that last reply. With
 * timeoutMs 0 it waits as long as the sandbox lives (exec).
 */
export function converse(path: string, req: ControlRequest, onReply: (r: ControlReply) => boolean, timeoutMs = 10000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const short = shortPath(path);
    const sock = net.createConnection(short.path);
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      f();
    };
    const timer = timeoutMs ? setTimeout(() => finish(() => reject(new ControlUnreachable('the container did not answer'))), timeoutMs) : undefined;
    sock.on('close', () => {
      short.close();
      finish(() => reject(new ControlUnreachable('the container is not running')));
    });
    sock.on('error', () => finish(() => reject(new ControlUnreachable('the container is not running'))));
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let r: ControlReply;
        try {
          r = JSON.parse(line) as ControlReply;
        } catch {
          finish(() => reject(new ControlUnreachable('the container answered garbage')));
          return;
        }
        if (!r.ok || onReply(r)) {
          finish(() => resolve(r));
          return;
        }
      }
      if (buf.length > MAX_MESSAGE) finish(() => reject(new ControlUnreachable('the container answered garbage')));
    });
  });
}
