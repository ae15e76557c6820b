// bind, connect.
//
// The Sentry performs both on its own copy of the guest's socket, with the
// address it copied: letting the host run them after inspecting the address
// would let another guest thread swap the address in between. A unix socket
// bound to a path gets a sandbox-private abstract address in the guest's
// network namespace, recorded against the socket node the bind created.
import { AF_INET, AF_INET6, AF_UNIX, CAP_NET_BIND_SERVICE, O_NONBLOCK, S_IFMT, S_IFSOCK, W_OK } from '../../abi/linux.js';
import { native } from '../../platform/native.js';
import { REPLIED } from '../../platform/notif.js';
import { hasCap, requireAccess } from '../creds.js';
import { fail } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { readBytes } from '../memory.js';
import type { Task } from '../task.js';
import type { Node } from '../vfs/node.js';
import { lookupChild, resolve, resolveParent } from '../vfs/resolve.js';
import type { Handler } from './dispatch.js';
import { assertValid, mayModifyDir, startDir, umaskMode } from './common.js';
import { STATX } from '../../platform/native.js';

const SOCKADDR_MAX = 128;
const UNIX_PATH_MAX = 108;

/** Abstract addresses standing for path-bound unix sockets, by socket node. */
const bindings = new Map<string, Buffer>();
let nextBinding = 1;

function nodeKey(n: Node): string {
  const st = n.stat();
  return `${st.dev}:${st.ino}`;
}

interface SockCall {
  addr: Buffer;
  family: number;
  /** the guest socket, copied into the Sentry; closed by the caller */
  fd: number;
}

function prepare(k: Kernel, t: Task, sockfd: number, addrPtr: number, len: number): SockCall {
  if (len < 2 || len > SOCKADDR_MAX) fail('EINVAL');
  const addr = readBytes(t, addrPtr, len);
  const id = k.files.identify(t, sockfd);
  if ((id.sx[STATX.mode]! & S_IFMT) !== S_IFSOCK) {
    native.close(id.fd);
    fail('ENOTSOCK');
  }
  return { addr, family: addr.readUInt16LE(0), fd: id.fd };
}

/** The path of an AF_UNIX address, or null for abstract and unnamed ones. */
function unixPath(addr: Buffer): string | null {
  if (addr.length <= 2 || addr[2] === 0) return null;
  const end = addr.indexOf(0, 2);
  const path = addr.toString('latin1', 2, end < 0 ? addr.length : end);
  if (path.length >= UNIX_PATH_MAX) fail('EINVAL');
  return path;
}

function abstractAddr(k: Kernel): Buffer {
  const name = `tsvisor-${process.pid}-${k.initPid}-${nextBinding++}`;
  const b = Buffer.alloc(2 + 1 + name.length);
  b.writeUInt16LE(AF_UNIX, 0);
  b.write(name, 3, 'latin1');
  return b;
}

function doBind(k: Kernel, t: Task, c: SockCall): number {
  if (c.family === AF_UNIX) {
    const path = unixPath(c.addr);
    if (path !== null) {
      const { parent, name } = resolveParent(t.resolveCtx(), startDir(k, t, -100, path), path);
      if (name === '' || name === '.' || name === '..' || lookupChild(parent, name)) fail('EADDRINUSE');
      mayModifyDir(t, parent);
      const abs = abstractAddr(k);
      const r = native.sockBind(c.fd, abs, abs.length);
      if (r < 0) return r;
      const node = parent.dentry.node.mknod(name, S_IFSOCK | umaskMode(t, 0o777), 0, t.creds);
      parent.dentry.add(name, node);
      bindings.set(nodeKey(node), abs);
      return 0;
    }
  } else if (c.family === AF_INET || c.family === AF_INET6) {
    const port = c.addr.length >= 4 ? c.addr.readUInt16BE(2) : 0;
    if (port !== 0 && port < 1024 && !hasCap(t.creds, CAP_NET_BIND_SERVICE)) fail('EACCES');
  }
  return native.sockBind(c.fd, c.addr, c.addr.length);
}

function doConnect(k: Kernel, t: Task, c: SockCall): number {
  let addr = c.addr;
  if (c.family === AF_UNIX) {
    const path = unixPath(c.addr);
    if (path !== null) {
      const loc = resolve(t.resolveCtx(), startDir(k, t, -100, path), path, true);
      const st = loc.dentry.node.stat();
      if ((st.mode & S_IFMT) !== S_IFSOCK) fail('ECONNREFUSED');
      requireAccess(t.creds, st.mode, st.uid, st.gid, W_OK);
      const abs = bindings.get(nodeKey(loc.dentry.node));
      if (!abs) fail('ECONNREFUSED');
      addr = abs;
    }
    return native.sockConnect(c.fd, addr, addr.length);
  }
  const blocking = (native.fcntlGetfl(c.fd) & O_NONBLOCK) === 0;
  if (!blocking) return native.sockConnect(c.fd, addr, addr.length);
  // A blocking network connect may take long: answer the guest later.
  const id = k.channel.args.id;
  const fd = native.dup(c.fd);
  native.sockConnectAsync(fd, addr, addr.length, (r) => {
    native.close(fd);
    k.channel.replyLater(id, r);
  });
  return REPLIED;
}

function withSocket(k: Kernel, t: Task, sockfd: number, addrPtr: number, len: number, op: (k: Kernel, t: Task, c: SockCall) => number): number {
  const c = prepare(k, t, sockfd, addrPtr, len);
  try {
    assertValid(k, t);
    return op(k, t, c);
  } finally {
    native.close(c.fd);
  }
}

export const socketHandlers: Record<string, Handler> = {
  bind: (k, t, a) => withSocket(k, t, a.int(0), a.long(1), a.int(2), doBind),
  connect: (k, t, a) => withSocket(k, t, a.int(0), a.long(1), a.int(2), doConnect),
};
