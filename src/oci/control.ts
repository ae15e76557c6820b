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

/** Serves requests on `path` (replacing a stale socket file). */
export function serveControl(path: string, handle: (req: ControlRequest) => ControlReply): net.Server {
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
  server.listen(path);
  fs.chmodSync(path, 0o600);
  return server;
}

/** Sends one request; rejects with ControlUnreachable when nothing listens. */
export function request(path: string, req: ControlRequest, timeoutMs = 10000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(path);
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
