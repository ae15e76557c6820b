// ttrpc (github.com/containerd/ttrpc), the RPC containerd speaks with its
// shims: over a stream socket, frames of a 10-byte header (4-byte
// big-endian payload length, 4-byte stream id, 1-byte type: 1 request,
// 2 response; 1-byte flags) and a protobuf payload, a Request{service,
// method, payload} or a Response{status, payload}. Clients use odd stream
// ids; a response carries its request's. Frames are at most 4 MiB.
import net from 'node:net';
import { decode, encode } from './proto.js';

const HEADER = 10;
const MAX_FRAME = 4 << 20;
const TYPE_REQUEST = 1;
const TYPE_RESPONSE = 2;

/** google.rpc codes containerd maps to its errdefs (errdefs.FromGRPC). */
export const Code = { InvalidArgument: 3, NotFound: 5, AlreadyExists: 6, FailedPrecondition: 9, Unimplemented: 12, Internal: 13 } as const;

/** An error a method answers with: a gRPC status code and a message. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A method: the request's payload in, the response's payload out. */
export type Method = (payload: Buffer) => Promise<Uint8Array>;

interface Frame {
  stream: number;
  type: number;
  payload: Buffer;
}

/** Splits what a socket delivers into frames; a frame over the limit closes the connection. */
function readFrames(sock: net.Socket, onFrame: (f: Frame) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  sock.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= HEADER) {
      const length = buf.readUInt32BE(0);
      if (length > MAX_FRAME) {
        sock.destroy();
        return;
      }
      if (buf.length < HEADER + length) break;
      const frame = { stream: buf.readUInt32BE(4), type: buf[8]!, payload: buf.subarray(HEADER, HEADER + length) };
      buf = buf.subarray(HEADER + length);
      onFrame(frame);
    }
  });
}

function writeFrame(sock: net.Socket, stream: number, type: number, payload: Uint8Array): void {
  const header = Buffer.alloc(HEADER);
  header.writeUInt32BE(payload.length, 0);
  header.writeUInt32BE(stream, 4);
  header[8] = type;
  if (!sock.destroyed) sock.write(Buffer.concat([header, payload]));
}

/**
 * Serves `services` ("containerd.task.v2.Task" → method name → handler)
 * on connections of `server`; calls run concurrently and answer in any
 * order, as ttrpc allows.
 */
export function serve(server: net.Server, services: Record<string, Record<string, Method>>, onError: (e: unknown) => void): void {
  server.on('connection', (sock) => {
    sock.on('error', () => sock.destroy());
    readFrames(sock, (f) => {
      if (f.type !== TYPE_REQUEST) return;
      let req: { service: string; method: string; payload: Buffer };
      try {
        req = decode('Request', f.payload);
      } catch {
        sock.destroy();
        return;
      }
      const method = services[req.service]?.[req.method];
      const call = method ? method(req.payload) : Promise.reject(new RpcError(Code.Unimplemented, `${req.service}/${req.method} is not implemented`));
      call.then(
        (payload) => writeFrame(sock, f.stream, TYPE_RESPONSE, encode('Response', { payload })),
        (e: unknown) => {
          if (!(e instanceof RpcError)) onError(e);
          const status = e instanceof RpcError ? { code: e.code, message: e.message } : { code: Code.Internal, message: e instanceof Error ? e.message : String(e) };
          writeFrame(sock, f.stream, TYPE_RESPONSE, encode('Response', { status }));
        },
      );
    });
  });
}

/** A ttrpc client on one connection (the shim's to containerd's event service). */
export class Client {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();
  private readonly sock: net.Socket;

  constructor(path: string) {
    this.sock = net.createConnection(path);
    this.sock.on('error', () => this.sock.destroy());
    this.sock.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('ttrpc: connection closed'));
      this.pending.clear();
    });
    readFrames(this.sock, (f) => {
      const p = this.pending.get(f.stream);
      if (f.type !== TYPE_RESPONSE || !p) return;
      this.pending.delete(f.stream);
      const r = decode<{ status: { code: number; message: string } | null; payload: Buffer }>('Response', f.payload);
      if (r.status && r.status.code !== 0) p.reject(new RpcError(r.status.code, r.status.message));
      else p.resolve(r.payload);
    });
  }

  get closed(): boolean {
    return this.sock.destroyed;
  }

  call(service: string, method: string, payload: Uint8Array, timeoutMs: number): Promise<Buffer> {
    const stream = this.next;
    this.next += 2;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(stream);
        reject(new Error(`ttrpc: ${service}/${method} timed out`));
      }, timeoutMs);
      this.pending.set(stream, {
        resolve: (b) => (clearTimeout(timer), resolve(b)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      writeFrame(this.sock, stream, TYPE_REQUEST, encode('Request', { service, method, payload, timeout_nano: timeoutMs * 1e6 }));
    });
  }

  close(): void {
    this.sock.destroy();
  }
}
