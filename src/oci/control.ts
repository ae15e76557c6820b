// The control socket of a running container: the sandbox process (the
// Sentry, started by `create`) listens on <root>/<id>/control.sock; the
// short-lived commands (start, kill, ps) send it one JSON request per
// connection and read one JSON reply. Only root can reach it: the
// container directory is 0711 and the socket 0600.
import fs from 'node:fs';
import net from 'node:net';

export type ControlRequest = { op: 'start' } | { op: 'kill'; signal: number; all: boolean } | { op: 'ps' };

export type ControlReply = { ok: true; pids?: number[] } | { ok: false; error: string };

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

/** Serves requests on `path` (replacing a stale socket file); resolves once listening. */
export function serveControl(path: string, handle: (req: ControlRequest) => ControlReply): Promise<net.Server> {
  fs.rmSync(path, { force: true });
  const server = net.createServer((sock) => {
    sock.on('error', () => sock.destroy());
    readLine(sock, (line) => {
      let reply: ControlReply;
      try {
        reply = handle(JSON.parse(line) as ControlRequest);
      } catch (e) {
        reply = { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
      sock.end(`${JSON.stringify(reply)}\n`);
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

/** Sends one request; rejects with ControlUnreachable when nothing listens. */
export function request(path: string, req: ControlRequest, timeoutMs = 10000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const short = shortPath(path);
    const sock = net.createConnection(short.path);
    sock.on('close', () => short.close());
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ControlUnreachable('the container did not answer'));
    }, timeoutMs);
    sock.on('error', () => {
      clearTimeout(timer);
      reject(new ControlUnreachable('the container is not running'));
    });
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    readLine(sock, (line) => {
      clearTimeout(timer);
      sock.destroy();
      try {
        resolve(JSON.parse(line) as ControlReply);
      } catch {
        reject(new ControlUnreachable('the container answered garbage'));
      }
    });
  });
}
