// bind, connect, listen, sendto, sendmsg, sendmmsg, and socket() for raw and
// packet sockets.
//
// The Sentry performs these on its own copy of the guest's socket, with the
// address and message it copied: letting the host run them after inspecting
// guest memory would let another guest thread swap the address in between.
// A unix socket bound to a path is bound on the host to the very path the
// guest named, resolved in a directory of the Sentry's own (see `mirrorBind`),
// so every name the kernel reports is exact; the Sentry connects and sends to
// it through the socket file there. With the host's network namespace, the
// guest's own abstract names get a per-sandbox prefix so they never meet the
// host's.
import fs from 'node:fs';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  AF_NETLINK,
  AF_PACKET,
  AF_UNIX,
  AT_EMPTY_PATH,
  CAP_NET_BIND_SERVICE,
  CAP_NET_RAW,
  CAP_SETGID,
  CAP_SETUID,
  CAP_SYS_ADMIN,
  CMSGHDR_SIZE,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  MMSGHDR_SIZE,
  MSGHDR_SIZE,
  NETLINK_SOCK_DIAG,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_OOB,
  O_CLOEXEC,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_PATH,
  RESOLVE_BENEATH,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
  SCM_CREDENTIALS,
  SCM_RIGHTS,
  SIGPIPE,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_RAW,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  SOCK_TYPE_MASK,
  SOL_SOCKET,
  SO_DOMAIN,
  SO_PASSCRED,
  SO_PASSPIDFD,
  SO_PEERCRED,
  SO_PEERGROUPS,
  SO_PEERPIDFD,
  SO_PROTOCOL,
  SO_SNDBUF,
  SO_TYPE,
  S_IFMT,
  S_IFSOCK,
  UIO_MAXIOV,
  W_OK,
} from '../../abi/linux.js';
import { ERRNO } from '../../abi/errno.js';
import { native } from '../../platform/native.js';
import { CONTINUE, REPLIED, type SyscallArgs } from '../../platform/notif.js';
import { type IdKind, hasCap, hostIdOf, requireAccess } from '../creds.js';
import { SysErr, fail } from '../errors.js';
import { BoundedLru } from '../lru.js';
import type { NetworkAttempt } from '../spec.js';
import type { Kernel } from '../kernel.js';
import { readBytes, readI32, writeBytes, writeI32 } from '../memory.js';
import type { Process, Task } from '../task.js';
import type { Node } from '../vfs/node.js';
import { lookupChild, resolve, resolveParent } from '../vfs/resolve.js';
import type { Handler } from './dispatch.js';
import { assertValid, installFd, mayModifyDir, startDir } from './common.js';
import { STATX, STATX_FIELDS } from '../../platform/native.js';

const SOCKADDR_MAX = 128;
const UNIX_PATH_MAX = 108;
/** sizeof(struct sockaddr_un): a longer AF_UNIX address is EINVAL */
const SOCKADDR_UN_SIZE = 2 + UNIX_PATH_MAX;
/** Data the Sentry copies at a time: a longer stream send goes on chunk by chunk, a longer datagram is EMSGSIZE. */
const SEND_MAX = 4 << 20;
/** Control data per message (Linux refuses more than optmem_max with ENOBUFS). */
const CONTROL_MAX = 128 << 10;
/** fds one message may pass (Linux's SCM_MAX_FD; more is EINVAL). */
const SCM_MAX_FD = 253;
/**
 * What the Sentry holds for sends waiting on full sockets, all guests
 * together: fds (the socket's copy and the passed fds) and copied bytes. Past
 * either a send that would wait fails with ENOBUFS instead.
 */
const WAITING_FDS_MAX = 4096;
const WAITING_BYTES_MAX = 64 << 20;
const waiting = { fds: 0, bytes: 0 };

/**
 * Where the host sockets of path-bound unix sockets are: a tmpfs mounted
 * nowhere, one directory per bind (`mirrorBind`). By socket node, oldest
 * first; past BINDINGS_MAX binds or MIRROR_INODES host inodes the oldest is
 * forgotten and its directory removed (connecting to its path is then
 * ECONNREFUSED, as for a socket that went away; the socket keeps its name).
 */
interface Binding {
  /** its directory in the mirror */
  dir: string;
  /** the socket file, relative to the mirror */
  file: string;
  /** host inodes it may hold: the directory, its cwd, one per path component */
  inodes: number;
}
const bindings = new Map<string, Binding>();
const BINDINGS_MAX = 1 << 14;
const MIRROR_INODES = 1 << 16;
const mirror = { fd: -1, inodes: 0, next: 0 };

/** The mirror's root directory fd, or -errno when it cannot be mounted. */
function mirrorFd(): number {
  if (mirror.fd < 0) {
    const fd = native.tmpfsMount(4 << 20, MIRROR_INODES + 1);
    if (fd < 0) return -ERRNO.ENOBUFS;
    mirror.fd = fd;
  }
  return mirror.fd;
}

function forget(key: string): void {
  const b = bindings.get(key);
  if (!b) return;
  bindings.delete(key);
  native.removeTree(mirror.fd, b.dir);
  mirror.inodes -= b.inodes;
}

/**
 * Where `path` lands when resolved from the root `dir` with cwd `dir/c`:
 * the mirror holds only directories the Sentry made, so no symlink can make
 * the kernel's walk differ from this one.
 */
function mirrorFile(dir: string, path: string): string {
  const parts = path.startsWith('/') ? [] : ['c'];
  for (const c of path.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') parts.pop();
    else parts.push(c);
  }
  return [dir, ...parts].join('/');
}

/**
 * Binds `sock` to the guest's unix address `addr` as given: a thread with the
 * root of a fresh mirror directory (and its `c` as cwd) makes the directories
 * the path walks through and binds there. The kernel keeps the name as the
 * guest wrote it; the Sentry alone can reach the directory.
 */
function mirrorBind(sock: number, path: string, addr: Buffer): Binding | number {
  const inodes = 3 + path.split('/').length;
  while (bindings.size >= BINDINGS_MAX || (bindings.size > 0 && mirror.inodes + inodes > MIRROR_INODES)) {
    forget(bindings.keys().next().value!);
  }
  const m = mirrorFd();
  if (m < 0) return m;
  const dir = (mirror.next++).toString(36);
  const r0 = native.mkdirat(m, dir, 0o700);
  if (r0 < 0) return r0;
  const root = native.openat2(m, dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0, 0);
  const r = root < 0 ? root : native.sockBindIn(sock, root, addr, addr.length);
  if (root >= 0) native.close(root);
  if (r < 0) {
    native.removeTree(m, dir);
    return r;
  }
  mirror.inodes += inodes;
  return { dir, file: mirrorFile(dir, path), inodes };
}

function nodeKey(n: Node): string {
  const st = n.stat();
  return `${st.dev}:${st.ino}`;
}

/**
 * Who connected the unix sockets the Sentry connected for a guest (the last
 * PEERS_MAX). The kernel takes the accepting end's SO_PEERCRED from the task
 * that called connect, which was the Sentry, so the Sentry answers those
 * queries itself. Each connect runs under an effective gid of its own (a
 * token, outside every id the sandbox maps) that the accepting end's
 * SO_PEERCRED keeps, also once the connecting socket is gone; the record is
 * found by it (key `g<gid>`), or where the token could not be set by the
 * connecting socket's inode, the peer sock_diag names (key `i<inode>`).
 */
interface Peer {
  /** the process (for SO_PEERPIDFD: the Sentry's pidfd of it, never a host pid that may be reused) */
  proc: Process;
  /** its pid in the sandbox */
  pid: number;
  uid: number;
  gid: number;
  groups: readonly number[];
}
const PEERS_MAX = 1 << 14;
/** two keys a connect */
const peers = new BoundedLru<string, Peer>(2 * PEERS_MAX);
/** The connect tokens: host gids from PEER_TOKEN_BASE, reused after PEER_TOKENS connects. */
const PEER_TOKEN_BASE = 3_000_000_000;
const PEER_TOKENS = 1 << 30;
let peerSeq = 0;

/** Records who connects `sock` now; returns the token gid to connect under. */
function recordPeer(t: Task, sock: number): number {
  const c = t.creds;
  const peer: Peer = { proc: t.proc, pid: t.proc.pid, uid: c.euid, gid: c.egid, groups: c.groups };
  const token = PEER_TOKEN_BASE + (peerSeq++ % PEER_TOKENS);
  const keys = [`g${token}`];
  const sx = new Float64Array(STATX_FIELDS);
  if (native.statxFd(sock, sx) === 0) keys.push(`i${sx[STATX.ino]}`);
  for (const key of keys) peers.set(key, peer);
  return token;
}

/** A socket made in the network namespace of `t` (abstract names and sock_diag are per namespace), or -errno. */
function socketInGuestNetns(t: Task, family: number, type: number, protocol: number): number {
  let netns: number;
  try {
    netns = fs.openSync(`/proc/${t.tid}/ns/net`, 'r');
  } catch {
    return -ERRNO.ESRCH;
  }
  const fd = native.socketInNetns(netns, family, type, protocol);
  native.close(netns);
  return fd;
}

/** The inode of the socket connected to unix socket `ino` of `t`'s network namespace (0: a connection not yet accepted), or -errno. */
function unixPeer(t: Task, ino: number): number {
  const diag = socketInGuestNetns(t, AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (diag < 0) return diag;
  const peer = native.unixPeerIno(diag, ino);
  native.close(diag);
  return peer;
}

/** The recorded peer of guest unix socket `sock` when the Sentry connected it, else null. */
function sentryPeer(t: Task, sock: number, ino: number): Peer | null {
  const uc = Buffer.alloc(12);
  if (native.sockOptBytes(sock, SO_PEERCRED, uc) < 12 || uc.readInt32LE(0) !== process.pid) return null;
  const byToken = peers.peek(`g${uc.readUInt32LE(8)}`);
  if (byToken) return byToken;
  const peerIno = unixPeer(t, ino);
  return peerIno > 0 ? (peers.peek(`i${peerIno}`) ?? null) : null;
}

/**
 * SO_PEERCRED, SO_PEERGROUPS and SO_PEERPIDFD (the filter traps only these
 * option numbers): answered from the record when the Sentry made the
 * connection, by the host otherwise.
 */
function getsockopt(k: Kernel, t: Task, a: SyscallArgs): number {
  const [level, opt, valPtr, lenPtr] = [a.int(1), a.int(2), a.long(3), a.long(4)];
  if (level !== SOL_SOCKET || (opt !== SO_PEERCRED && opt !== SO_PEERGROUPS && opt !== SO_PEERPIDFD)) return CONTINUE;
  let id;
  try {
    id = k.files.identify(t, a.int(0));
  } catch {
    return CONTINUE;
  }
  let peer: Peer | null;
  try {
    peer = isUnix(id.fd) ? sentryPeer(t, id.fd, id.sx[STATX.ino]!) : null;
  } finally {
    native.close(id.fd);
  }
  if (!peer) return CONTINUE;
  const len = readI32(t, lenPtr);
  if (len < 0) fail('EINVAL');
  let out: Buffer;
  if (opt === SO_PEERCRED) {
    out = Buffer.alloc(12);
    out.writeInt32LE(peer.pid, 0);
    out.writeUInt32LE(peer.uid, 4);
    out.writeUInt32LE(peer.gid, 8);
    out = out.subarray(0, Math.min(len, 12));
  } else if (opt === SO_PEERGROUPS) {
    out = Buffer.alloc(4 * peer.groups.length);
    peer.groups.forEach((g, i) => out.writeUInt32LE(g, 4 * i));
    if (len < out.length) {
      writeI32(t, lenPtr, out.length);
      fail('ERANGE');
    }
  } else {
    if (peer.proc.exited) fail('ESRCH');
    const pidfd = native.dup(peer.proc.pidfd());
    if (pidfd < 0) return pidfd === -ERRNO.EMFILE ? -ERRNO.ENFILE : pidfd;
    const fd = native.notifAddFd(k.channel.fd, a.id, pidfd, O_CLOEXEC, 0, 0, a.tid);
    native.close(pidfd);
    if (fd < 0) return fd;
    out = Buffer.alloc(4);
    out.writeInt32LE(fd, 0);
    out = out.subarray(0, Math.min(len, 4));
  }
  writeBytes(t, valPtr, out);
  writeI32(t, lenPtr, out.length);
  return 0;
}

/** The Sentry's copy of a guest socket; throws ENOTSOCK for anything else. The caller closes it. */
function socketOf(k: Kernel, t: Task, sockfd: number): number {
  const id = k.files.identify(t, sockfd);
  if ((id.sx[STATX.mode]! & S_IFMT) !== S_IFSOCK) {
    native.close(id.fd);
    fail('ENOTSOCK');
  }
  return id.fd;
}

function readAddr(t: Task, addrPtr: number, len: number): Buffer {
  if (len < 2 || len > SOCKADDR_MAX) fail('EINVAL');
  return readBytes(t, addrPtr, len);
}

/** The path of an AF_UNIX address, or null for abstract and unnamed ones. */
function unixPath(addr: Buffer): string | null {
  if (addr.length <= 2 || addr[2] === 0) return null;
  const end = addr.indexOf(0, 2);
  const path = addr.toString('latin1', 2, end < 0 ? addr.length : end);
  if (path.length > UNIX_PATH_MAX) fail('EINVAL');
  return path;
}

/** A name unique to the sandbox that says nothing about the host (no host pid). */
function sandboxTag(k: Kernel): string {
  return `tsvisor-${k.sandboxId}`;
}

function abstractAddr(name: string, rest: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(3 + name.length + rest.length);
  b.writeUInt16LE(AF_UNIX, 0);
  b.write(name, 3, 'latin1');
  rest.copy(b, 3 + name.length);
  if (b.length > 2 + UNIX_PATH_MAX) fail('EINVAL');
  return b;
}

/** A guest abstract address as the host sees it: private to the sandbox when it shares the host's network namespace. */
function privateAbstract(k: Kernel, addr: Buffer): Buffer {
  if ((k.spec.network === 'none' && !k.spec.netnsPath) || addr.length <= 2) return addr;
  return abstractAddr(`${sandboxTag(k)}/`, addr.subarray(3));
}

/**
 * Where a guest destination address (connect, sendto, msg_name) points on the
 * host. For a socket file, `fd` is the Sentry's O_PATH fd of its host socket
 * and the address names it through /proc/self/fd; the caller closes `fd`
 * once the call is done.
 */
interface Destination {
  addr: Buffer;
  fd: number;
}
function destination(k: Kernel, t: Task, addr: Buffer): Destination {
  if (addr.readUInt16LE(0) !== AF_UNIX) return { addr, fd: -1 };
  if (addr.length > SOCKADDR_UN_SIZE) fail('EINVAL');
  const path = unixPath(addr);
  if (path === null) return { addr: privateAbstract(k, addr), fd: -1 };
  const loc = resolve(t.resolveCtx(), startDir(k, t, -100, path), path, true);
  const st = loc.dentry.node.stat();
  requireAccess(t.creds, loc.dentry.node, st, W_OK);
  if ((st.mode & S_IFMT) !== S_IFSOCK) fail('ECONNREFUSED');
  const b = bindings.get(nodeKey(loc.dentry.node));
  if (!b) fail('ECONNREFUSED');
  const fd = native.openat2(
    mirror.fd,
    b.file,
    O_PATH | O_NOFOLLOW | O_CLOEXEC,
    0,
    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  );
  if (fd === -ERRNO.EMFILE) fail('ENFILE');
  if (fd < 0) fail('ECONNREFUSED');
  const name = `/proc/self/fd/${fd}`;
  const host = Buffer.alloc(3 + name.length);
  host.writeUInt16LE(AF_UNIX, 0);
  host.write(name, 2, 'latin1');
  return { addr: host, fd };
}

/**
 * A guest destination for a send of `len` bytes on `sock`. Stream and
 * seqpacket unix sockets ignore or refuse an address without looking at it;
 * a datagram send checks its flags and size before the name (Linux's order).
 */
function sendDestination(k: Kernel, t: Task, sock: number, addr: Buffer, len: number, flags: number): Destination {
  if (addr.readUInt16LE(0) !== AF_UNIX || !isUnix(sock)) return destination(k, t, addr);
  if (native.sockOptInt(sock, SO_TYPE) !== SOCK_DGRAM) return { addr, fd: -1 };
  if (flags & MSG_OOB) fail('EOPNOTSUPP');
  if (addr.length > SOCKADDR_UN_SIZE) fail('EINVAL');
  if (len > native.sockOptInt(sock, SO_SNDBUF) - 32) fail('EMSGSIZE');
  return destination(k, t, addr);
}

/**
 * A netlink socket binds itself on its first bind, connect or send; Linux
 * takes the caller's pid as its port id when that is free. The kernel would
 * take the guest's host-side pid, so the Sentry binds the guest's own pid
 * first (any unprivileged process may bind any free port id); when it is in
 * use the kernel's choice stands. A sendto without an address runs on the
 * host and gets the kernel's choice.
 */
function netlinkBindOwnPid(t: Task, sock: number, groups = 0): number {
  const cur = Buffer.alloc(12);
  if (native.sockName(sock, cur) < 0 || cur.readUInt16LE(0) !== AF_NETLINK || cur.readUInt32LE(4) !== 0) return -ERRNO.EINVAL;
  const addr = Buffer.alloc(12);
  addr.writeUInt16LE(AF_NETLINK, 0);
  addr.writeUInt32LE(t.proc.pid, 4);
  addr.writeUInt32LE(groups >>> 0, 8);
  return native.sockBind(sock, addr, addr.length, true);
}

function bind(k: Kernel, t: Task, sock: number, addr: Buffer): number {
  const family = addr.readUInt16LE(0);
  if (family === AF_UNIX) {
    if (addr.length > SOCKADDR_UN_SIZE) fail('EINVAL');
    const path = unixPath(addr);
    if (path === null) {
      const host = privateAbstract(k, addr);
      assertValid(k, t);
      return native.sockBind(sock, host, host.length);
    }
    const { parent, name } = resolveParent(t.resolveCtx(), startDir(k, t, -100, path), path);
    if (name === '' || name === '.' || name === '..' || lookupChild(parent, name)) fail('EADDRINUSE');
    // A new name with a trailing slash asks for a directory (Linux's filename_create).
    if (path.endsWith('/')) fail('ENOENT');
    mayModifyDir(t, parent);
    assertValid(k, t);
    // The socket file first, as Linux makes it: a bind that fails leaves the
    // socket unbound. Its mode is the socket's own (fchmod may have changed it) less the umask,
    // even under a default ACL (unix_bind_bsd applies it itself).
    const sx = new Float64Array(STATX_FIELDS);
    if (native.statxFd(sock, sx) < 0) fail('EBADF');
    const node = parent.dentry.node.mknod(name, S_IFSOCK | sx[STATX.mode]! & 0o777 & ~t.fs.umask, 0, t.creds);
    parent.dentry.add(name, node);
    const b = mirrorBind(sock, path, addr);
    if (typeof b === 'number') {
      parent.dentry.node.unlink(name, node);
      parent.dentry.forget(name);
      return b;
    }
    k.inotify.created(parent.dentry.node, name, node);
    const key = nodeKey(node);
    forget(key);
    bindings.set(key, b);
    return 0;
  }
  if (family === AF_NETLINK && addr.length >= 12 && addr.readUInt32LE(4) === 0) {
    assertValid(k, t);
    const r = netlinkBindOwnPid(t, sock, addr.readUInt32LE(8));
    if (r !== -ERRNO.EADDRINUSE && r !== -ERRNO.EINVAL) return r;
  }
  // A port below the unprivileged start is the one check the Sentry makes
  // itself (and binds with its own capabilities); everything else binds as
  // an unprivileged process (netlink multicast groups).
  let lowPort = false;
  if (family === AF_INET || family === AF_INET6) {
    const port = addr.length >= 4 ? addr.readUInt16BE(2) : 0;
    lowPort = port !== 0 && port < k.unprivilegedPortStart;
    if (lowPort && !hasCap(t.creds, CAP_NET_BIND_SERVICE)) fail('EACCES');
  }
  assertValid(k, t);
  return native.sockBind(sock, addr, addr.length, !lowPort);
}

function connect(k: Kernel, t: Task, sock: number, guestAddr: Buffer, report: (r: number) => number): number {
  const { addr, fd: target } = destination(k, t, guestAddr);
  const family = guestAddr.readUInt16LE(0);
  const gid = family === AF_UNIX ? recordPeer(t, sock) : -1;
  // Network connects run as an unprivileged process would (netlink groups).
  const unprivileged = family !== AF_UNIX;
  let handedOff = false;
  try {
    assertValid(k, t);
    if (family === AF_NETLINK) netlinkBindOwnPid(t, sock);
    if ((native.fcntlGetfl(sock) & O_NONBLOCK) !== 0) return native.sockConnect(sock, addr, addr.length, unprivileged, gid);
    // A blocking connect may take long (a network, a full unix backlog): answer the guest later.
    const fds = target < 0 ? 1 : 2;
    if (waiting.fds + fds > WAITING_FDS_MAX) fail('ENOBUFS');
    const fd = native.dup(sock);
    if (fd < 0) return fd === -ERRNO.EMFILE ? -ERRNO.ENFILE : fd;
    const ch = k.channel;
    const id = ch.args.id;
    waiting.fds += fds;
    handedOff = true;
    native.sockConnectAsync(fd, addr, addr.length, (r) => {
      waiting.fds -= fds;
      native.close(fd);
      if (target >= 0) native.close(target);
      ch.replyLater(id, report(r));
    }, unprivileged, gid);
    return REPLIED;
  } finally {
    if (!handedOff && target >= 0) native.close(target);
  }
}

/** Reports nothing: no access observer, or a call without an address. */
const unobserved = (r: number): number => r;

/**
 * For an access observer: reports a network call with address `addr` (the
 * guest's) on the Sentry's socket `sock` once its result is known, passing
 * the result through. Decoded now, as the socket is closed by then.
 */
function observed(k: Kernel, t: Task, call: NetworkAttempt['call'], sock: number, addr: Buffer | null): (r: number) => number {
  const acc = k.access;
  if (!acc || !addr) return unobserved;
  const family = addr.readUInt16LE(0);
  const type = native.sockOptInt(sock, SO_TYPE);
  const { address, port } = sockaddrText(addr);
  const inet = family === AF_INET || family === AF_INET6;
  const base = { pid: t.proc.pid, call, family: FAMILY_NAMES[family] ?? `AF_${family}`, protocol: protocolName(sock, family, type), address, port };
  return (r) => {
    const errno = r < 0 && r !== REPLIED ? -r : 0;
    acc.network({ ...base, errno });
    const ownNetwork = k.spec.network === 'none' && !k.spec.netnsPath;
    // Loopback is the sandbox's own, unless it has none (SandboxSpec.loopback false): then it is refused too.
    if (inet && ownNetwork && NO_ROUTE_ERRNOS.has(errno) && (k.spec.loopback === false || !isLoopback(family, address))) {
      acc.denied({ pid: base.pid, rule: 'network', what: `${call} ${family === AF_INET6 ? `[${address}]` : address}:${port} (${base.protocol})`, errno });
    }
    return r;
  };
}

/** Runs a network call that answers now (or later, through `report` itself), reporting what it answers now. */
function reporting(report: (r: number) => number, op: () => number): number {
  if (report === unobserved) return op();
  let r: number;
  try {
    r = op();
  } catch (e) {
    if (e instanceof SysErr) report(-e.errno);
    throw e;
  }
  return r === REPLIED ? r : report(r);
}

const FAMILY_NAMES: Record<number, string> = { [AF_UNSPEC]: 'AF_UNSPEC', [AF_UNIX]: 'AF_UNIX', [AF_INET]: 'AF_INET', [AF_INET6]: 'AF_INET6', [AF_NETLINK]: 'AF_NETLINK', [AF_PACKET]: 'AF_PACKET' };

/** What a network-none sandbox answers for an address outside it: no route, or no such local address. */
const NO_ROUTE_ERRNOS: ReadonlySet<number> = new Set([ERRNO.ENETUNREACH, ERRNO.EHOSTUNREACH, ERRNO.EADDRNOTAVAIL]);

function protocolName(sock: number, family: number, type: number): string {
  if (family === AF_INET || family === AF_INET6) {
    if (type === SOCK_STREAM) return 'tcp';
    if (type === SOCK_RAW) return 'raw';
    const proto = native.sockOptInt(sock, SO_PROTOCOL);
    if (type === SOCK_DGRAM) return proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6 ? 'icmp' : 'udp';
  }
  return type === SOCK_STREAM ? 'stream' : type === SOCK_DGRAM ? 'dgram' : type === SOCK_SEQPACKET ? 'seqpacket' : type === SOCK_RAW ? 'raw' : `type ${type}`;
}

/** A socket address as text: an IP address and port, a unix path ("@name" when abstract), a netlink port id. */
function sockaddrText(addr: Buffer): { address: string; port: number | null } {
  const family = addr.readUInt16LE(0);
  if (family === AF_INET && addr.length >= 8) return { address: [...addr.subarray(4, 8)].join('.'), port: addr.readUInt16BE(2) };
  if (family === AF_INET6 && addr.length >= 24) return { address: ipv6Text(addr.subarray(8, 24)), port: addr.readUInt16BE(2) };
  if (family === AF_UNIX) {
    if (addr.length <= 2) return { address: '', port: null };
    if (addr[2] === 0) return { address: `@${addr.toString('latin1', 3)}`, port: null };
    const end = addr.indexOf(0, 2);
    return { address: Buffer.from(addr.toString('latin1', 2, end < 0 ? addr.length : end), 'latin1').toString('utf8'), port: null };
  }
  if (family === AF_NETLINK && addr.length >= 8) return { address: String(addr.readUInt32LE(4)), port: null };
  return { address: '', port: null };
}

/** An IPv6 address in its short form (RFC 5952: the longest run of zero groups as "::"). */
function ipv6Text(b: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i).toString(16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function isLoopback(family: number, address: string): boolean {
  return family === AF_INET ? address.startsWith('127.') : address === '::1' || address.startsWith('::ffff:7f');
}

/** A message copied out of the guest, ready to send on the host. */
interface Message {
  name: Buffer | null;
  /** the destination as the guest gave it (for an access observer) */
  guestName: Buffer | null;
  /** the first SEND_MAX bytes of the data */
  data: Buffer;
  control: Buffer | null;
  /** the credentials in `control`, which the rest of a stream send carries too (Linux attaches them to every part) */
  creds: Buffer | null;
  /** Sentry copies of fds passed with SCM_RIGHTS (and a unix destination's), closed once sent */
  fds: number[];
  /** guest memory [address, length] past `data`, copied chunk by chunk as a stream send goes on */
  more: [number, number][];
}

/** Copies up to SEND_MAX bytes from the front of `segs`, consuming them. */
function copyChunk(t: Task, segs: [number, number][]): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  while (segs.length > 0 && total < SEND_MAX) {
    const seg = segs[0]!;
    const len = Math.min(seg[1], SEND_MAX - total);
    parts.push(readBytes(t, seg[0], len));
    total += len;
    if (len === seg[1]) segs.shift();
    else segs[0] = [seg[0] + len, seg[1] - len];
  }
  return Buffer.concat(parts, total);
}

function closeAll(fds: number[]): void {
  for (const fd of fds) native.close(fd);
  fds.length = 0;
}

function hostId(kind: IdKind, id: number): number {
  const h = hostIdOf(kind, id);
  if (h < 0) fail('EINVAL');
  return h;
}

/**
 * struct ucred as the host must see it for credentials the guest claims
 * (Linux's checks in its order, in the sandbox's ids): another process's pid
 * needs CAP_SYS_ADMIN and must exist in the sandbox.
 */
function hostUcred(k: Kernel, t: Task, pid: number, uid: number, gid: number): [number, number, number] {
  const c = t.creds;
  const [hostUid, hostGid] = [hostId('uid', uid), hostId('gid', gid)];
  if (pid !== t.proc.pid && !hasCap(c, CAP_SYS_ADMIN)) fail('EPERM');
  if (uid !== c.uid && uid !== c.euid && uid !== c.fsuid && !hasCap(c, CAP_SETUID)) fail('EPERM');
  if (gid !== c.gid && gid !== c.egid && gid !== c.fsgid && !hasCap(c, CAP_SETGID)) fail('EPERM');
  if (pid === t.proc.pid) return [t.proc.tgid, hostUid, hostGid];
  for (const p of k.procs.values()) if (p.pid === pid && !p.exited) return [p.tgid, hostUid, hostGid];
  fail('ESRCH');
}

function credsMessage(ucred: [number, number, number]): Buffer {
  const b = Buffer.alloc(CMSGHDR_SIZE + 16);
  b.writeBigUInt64LE(BigInt(CMSGHDR_SIZE + 12), 0);
  b.writeInt32LE(SOL_SOCKET, 8);
  b.writeInt32LE(SCM_CREDENTIALS, 12);
  ucred.forEach((v, i) => b.writeUInt32LE(v >>> 0, CMSGHDR_SIZE + 4 * i));
  return b;
}

/** Whether unix socket `fd` asks for credentials (SO_PASSCRED or SO_PASSPIDFD). */
function passesCreds(fd: number): boolean {
  return native.sockOptInt(fd, SO_PASSCRED) > 0 || native.sockOptInt(fd, SO_PASSPIDFD) > 0;
}

/**
 * Where the receiving sockets of recent sends were found, by inode (the last
 * HOLDERS_MAX): the first place to look.
 */
interface Place {
  proc: Process;
  fd: number;
}
const HOLDERS_MAX = 1024;
const holders = new BoundedLru<number, Place>(HOLDERS_MAX);

/** A Sentry copy of the guest's socket with inode `ino` (on the sockfs of `dev` [major, minor]), or -1 when no guest process holds it. */
function heldSocket(k: Kernel, dev: [number, number], ino: number): number {
  const sx = new Float64Array(STATX_FIELDS);
  /** A copy of the socket at `p`, remembered there; -1 when it is not there. */
  const copy = (p: Place): number => {
    let c: number;
    try {
      c = native.pidfdGetfd(p.proc.pidfd(), p.fd);
    } catch {
      return -1;
    }
    if (c < 0) return -1;
    if (native.statxFd(c, sx) !== 0 || sx[STATX.ino] !== ino || sx[STATX.devMajor] !== dev[0] || sx[STATX.devMinor] !== dev[1]) {
      native.close(c);
      return -1;
    }
    holders.set(ino, p);
    return c;
  };
  const known = holders.peek(ino);
  holders.delete(ino);
  if (known && !known.proc.exited) {
    const c = copy(known);
    if (c >= 0) return c;
  }
  for (const [tgid, fd] of k.files.holders(dev[0], dev[1], ino)) {
    const proc = k.procs.get(tgid);
    const c = proc && !proc.exited ? copy({ proc, fd }) : -1;
    if (c >= 0) return c;
  }
  return -1;
}

/**
 * The inode of the socket that receives what unix socket `sock` (inode
 * `ino`) sends now: the one bound at host address `name` for a datagram
 * send that names one (found by connecting a datagram socket of the
 * Sentry's to it), else its peer; 0 for a connection not yet accepted;
 * -errno when there is none.
 */
function receiverOf(t: Task, sock: number, ino: number, name: Buffer | null): number {
  if (!name || native.sockOptInt(sock, SO_TYPE) !== SOCK_DGRAM) return unixPeer(t, ino);
  const probe = socketInGuestNetns(t, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return probe;
  try {
    const r = native.sockConnect(probe, name, name.length);
    if (r < 0) return r;
    const sx = new Float64Array(STATX_FIELDS);
    if (native.statxFd(probe, sx) < 0) return -ERRNO.EBADF;
    return unixPeer(t, sx[STATX.ino]!);
  } finally {
    native.close(probe);
  }
}

/**
 * Whether Linux attaches the sender's credentials to a message unix socket
 * `sock` queues now (to host address `name`, when the send names one): when
 * the sending or the receiving socket asks for credentials then, or the
 * receiver is a connection not yet accepted (a receiver that asks later
 * sees a message queued without them as pid 0 and the overflow ids). The
 * kernel decides the same for the Sentry's send but would attach the
 * Sentry's credentials, so the Sentry attaches the guest's exactly then.
 * When the receiver cannot be found (a socket outside the sandbox, or one
 * in flight in a message) they are attached.
 */
function attachesCreds(k: Kernel, sock: number, t: Task, name: Buffer | null): boolean {
  if (passesCreds(sock)) return true;
  const sx = new Float64Array(STATX_FIELDS);
  if (native.statxFd(sock, sx) < 0) return true;
  const receiver = receiverOf(t, sock, sx[STATX.ino]!, name);
  if (receiver <= 0) return true;
  const copy = heldSocket(k, [sx[STATX.devMajor]!, sx[STATX.devMinor]!], receiver);
  if (copy < 0) return true;
  try {
    return passesCreds(copy);
  } finally {
    native.close(copy);
  }
}

/**
 * Control messages for the host, and the credentials part to repeat with
 * the rest of a stream send: SCM_RIGHTS fds become the Sentry's copies of
 * the guest's fds, SCM_CREDENTIALS host ids. A unix send (`unix`: the
 * Sentry's socket and the destination) carries the sender's credentials
 * when Linux would attach them (`attachesCreds`).
 */
function hostControl(
  k: Kernel,
  t: Task,
  guest: Buffer | null,
  unix: { sock: number; name: Buffer | null } | null,
  fds: number[],
): { control: Buffer | null; creds: Buffer | null } {
  const out = guest ? Buffer.from(guest) : Buffer.alloc(0);
  let creds: Buffer | null = null;
  let off = 0;
  while (off + CMSGHDR_SIZE <= out.length) {
    const len = Number(out.readBigUInt64LE(off));
    if (len < CMSGHDR_SIZE || off + len > out.length) fail('EINVAL');
    const level = out.readInt32LE(off + 8);
    const type = out.readInt32LE(off + 12);
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      if (fds.length + Math.floor((len - CMSGHDR_SIZE) / 4) > SCM_MAX_FD) fail('EINVAL');
      for (let p = off + CMSGHDR_SIZE; p + 4 <= off + len; p += 4) {
        const fd = native.pidfdGetfd(t.proc.pidfd(), out.readInt32LE(p));
        if (fd === -ERRNO.EMFILE) fail('ENFILE');
        if (fd < 0) fail('EBADF');
        fds.push(fd);
        out.writeInt32LE(fd, p);
        // In flight it is in no process's fd table: the file table must keep its entry.
        k.files.sending(fd);
      }
    } else if (level === SOL_SOCKET && type === SCM_CREDENTIALS) {
      if (!unix || len < CMSGHDR_SIZE + 12) fail('EINVAL');
      const p = off + CMSGHDR_SIZE;
      const ucred = hostUcred(k, t, out.readInt32LE(p), out.readUInt32LE(p + 4), out.readUInt32LE(p + 8));
      ucred.forEach((v, i) => out.writeUInt32LE(v >>> 0, p + 4 * i));
      creds = credsMessage(ucred);
    }
    off += (len + 7) & ~7;
  }
  if (unix && !creds && attachesCreds(k, unix.sock, t, unix.name)) {
    const c = t.creds;
    creds = credsMessage(hostUcred(k, t, t.proc.pid, c.uid, c.gid));
    // The kernel looks for the next header at the aligned end of the last
    // one (CMSG_NXTHDR): a msg_controllen that stops short of it (Chromium's
    // zygote gives cmsg_len) is padded, and bytes too few for a header are dropped.
    const head = off <= out.length ? out.subarray(0, off) : Buffer.concat([out, Buffer.alloc(off - out.length)]);
    return { control: Buffer.concat([head, creds]), creds };
  }
  return { control: out.length ? out : null, creds };
}

/** The address of `d`; its fd joins `fds`, closed once the message is sent. */
function withTarget(d: Destination, fds: number[]): Buffer {
  if (d.fd >= 0) fds.push(d.fd);
  return d.addr;
}

/** Copies a struct msghdr and what it points to. */
function readMessage(k: Kernel, t: Task, sock: number, ptr: number, unix: boolean, flags: number): Message {
  const h = readBytes(t, ptr, MSGHDR_SIZE);
  const u64 = (off: number) => Number(h.readBigUInt64LE(off));
  const namePtr = u64(0);
  const nameLen = h.readUInt32LE(8);
  const iovPtr = u64(16);
  const iovLen = u64(24);
  const ctlPtr = u64(32);
  const ctlLen = u64(40);
  const guestName = namePtr !== 0 && nameLen !== 0 ? readAddr(t, namePtr, nameLen) : null;
  if (iovLen > UIO_MAXIOV) fail('EMSGSIZE');
  const iov = readBytes(t, iovPtr, 16 * iovLen);
  const segs: [number, number][] = [];
  let total = 0;
  for (let i = 0; i < iovLen; i++) {
    const len = Number(iov.readBigUInt64LE(16 * i + 8));
    if (len !== 0) segs.push([Number(iov.readBigUInt64LE(16 * i)), len]);
    total += len;
  }
  const data = copyChunk(t, segs);
  if (ctlLen > CONTROL_MAX) fail('ENOBUFS');
  const fds: number[] = [];
  try {
    const name = guestName && withTarget(sendDestination(k, t, sock, guestName, total, flags), fds);
    const guestControl = ctlLen >= CMSGHDR_SIZE ? readBytes(t, ctlPtr, ctlLen) : null;
    const { control, creds } = hostControl(k, t, guestControl, unix ? { sock, name } : null, fds);
    return { name, guestName, data, control, creds, fds, more: segs };
  } catch (e) {
    closeAll(fds);
    throw e;
  }
}

/**
 * Sends `m` on the Sentry's socket `sock` (closed by the caller). A send
 * that would block a blocking socket finishes on the thread pool and the
 * guest is answered then; `done` sees the result either way. A stream send
 * goes on until all is sent, as Linux's does: past the first chunk the
 * data is copied and sent SEND_MAX bytes at a time, and a blocking send
 * that the socket took only part of continues with the rest. A timeout or
 * an error after some bytes returns the count sent.
 */
function send(k: Kernel, t: Task, sock: number, m: Message, flags: number, done: (r: number) => number = (r) => r): number {
  assertValid(k, t);
  const domain = native.sockOptInt(sock, SO_DOMAIN);
  if (domain === AF_NETLINK) netlinkBindOwnPid(t, sock);
  // The kernel checks the sender's capabilities for some sends (netlink
  // multicast, SO_MARK and IPv6 options in control data): network sends run
  // as an unprivileged process. A unix send keeps the Sentry's: it attaches
  // the guest's credentials, which the kernel lets only a privileged sender do.
  const unprivileged = domain !== AF_UNIX;
  const blocking = (flags & MSG_DONTWAIT) === 0 && (native.fcntlGetfl(sock) & O_NONBLOCK) === 0;
  if (m.more.length > 0 && native.sockOptInt(sock, SO_TYPE) !== SOCK_STREAM) {
    closeAll(m.fds);
    return done(-ERRNO.EMSGSIZE);
  }
  const ch = k.channel;
  const id = ch.args.id;
  let sent = 0;
  let cur: { name: Buffer | null; data: Buffer; control: Buffer | null } = m;
  const after = (r: number): number => {
    closeAll(m.fds);
    if (sent > 0) return done(sent + Math.max(r, 0));
    if (r === -ERRNO.EPIPE && (flags & MSG_NOSIGNAL) === 0) native.pidfdSendSignal(t.proc.pidfd(), SIGPIPE);
    return done(r);
  };
  /** What follows `cur` once the socket took all of it; null when nothing does. */
  const next = (): typeof cur | null => (m.more.length > 0 ? { name: null, data: copyChunk(t, m.more), control: m.creds } : null);
  const pump = (fd: number): number => {
    for (;;) {
      const r = native.sockSendmsg(fd, cur.name, cur.data, cur.control, flags | MSG_DONTWAIT, unprivileged);
      const partial = r >= 0 && r < cur.data.length;
      if (r >= 0 && !partial) {
        const following = m.more.length > 0 ? next() : null;
        if (!following) return after(r);
        sent += r;
        cur = following;
        continue;
      }
      if (!blocking || (r !== -ERRNO.EAGAIN && !partial)) return after(r);
      if (partial) {
        sent += r;
        cur = { name: null, data: cur.data.subarray(r), control: m.creds };
      }
      const fds = 1 + m.fds.length;
      const bytes = cur.data.length + (cur.control?.length ?? 0);
      if (waiting.fds + fds > WAITING_FDS_MAX || waiting.bytes + bytes > WAITING_BYTES_MAX) return after(-ERRNO.ENOBUFS);
      const wfd = native.dup(fd);
      if (wfd < 0) return after(wfd === -ERRNO.EMFILE ? -ERRNO.ENFILE : wfd);
      waiting.fds += fds;
      waiting.bytes += bytes;
      native.sockSendmsgAsync(wfd, cur.name, cur.data, cur.control, flags, (r2) => {
        waiting.fds -= fds;
        waiting.bytes -= bytes;
        // The rest of the data is copied, and sendmmsg's counts written, by
        // the sender's tid: that is the sender's only while it still waits in
        // this call. Once it is gone (killed, an exec by another thread) the
        // host may have given the tid to another process, maybe outside the
        // sandbox, whose memory would be read and sent, or written.
        if (!ch.valid(id)) {
          closeAll(m.fds);
          native.close(wfd);
          return;
        }
        let reply: number;
        try {
          if (r2 === cur.data.length && m.more.length > 0) {
            sent += r2;
            cur = next()!;
            reply = pump(wfd);
          } else {
            reply = after(r2);
          }
        } catch {
          closeAll(m.fds);
          try {
            reply = sent > 0 ? done(sent) : -ERRNO.EFAULT;
          } catch {
            reply = -ERRNO.EFAULT;
          }
        }
        native.close(wfd);
        if (reply !== REPLIED) ch.replyLater(id, reply);
      }, unprivileged);
      return REPLIED;
    }
  };
  try {
    return pump(sock);
  } catch (e) {
    if (sent === 0) throw e;
    closeAll(m.fds);
    return done(sent);
  }
}

function isUnix(sock: number): boolean {
  return native.sockOptInt(sock, SO_DOMAIN) === AF_UNIX;
}

/** Runs `op` on the Sentry's copy of guest socket `sockfd`. */
function withSocket(k: Kernel, t: Task, sockfd: number, op: (sock: number) => number): number {
  const sock = socketOf(k, t, sockfd);
  try {
    return op(sock);
  } finally {
    native.close(sock);
  }
}

/**
 * Raw and packet sockets (ping, tcpdump): the guest's user namespace owns no
 * network namespace, so the host would refuse it CAP_NET_RAW. The Sentry
 * makes the socket in the guest's network namespace when the guest holds
 * CAP_NET_RAW, as Docker grants it, and never in the host's.
 */
function rawSocket(k: Kernel, t: Task, a: SyscallArgs): number {
  const [family, type, protocol] = [a.int(0), a.int(1), a.int(2)];
  // The filter traps every SOCK_RAW: netlink's (ip, ss) needs no privilege and runs on the host.
  const inetRaw = (family === AF_INET || family === AF_INET6) && (type & SOCK_TYPE_MASK) === SOCK_RAW;
  if (family !== AF_PACKET && !inetRaw) return CONTINUE;
  if (k.sharesHostNetwork || !hasCap(t.creds, CAP_NET_RAW)) fail('EPERM');
  const fd = socketInGuestNetns(t, family, type, protocol);
  if (fd < 0) return fd;
  // Linux gives a socket its creator's fs ids (fstat, the uid of /proc/net/raw);
  // the Sentry made this one.
  let ready = false;
  try {
    const owned = native.fchownat(fd, '', hostId('uid', t.creds.fsuid), hostId('gid', t.creds.fsgid), AT_EMPTY_PATH);
    if (owned < 0) return owned;
    assertValid(k, t);
    ready = true;
  } finally {
    if (!ready) native.close(fd);
  }
  return installFd(k, a, fd, null, (type & SOCK_CLOEXEC) !== 0);
}

/** The address a socket listens on, for an access observer. */
function listenAddress(sock: number): Buffer | null {
  const b = Buffer.alloc(SOCKADDR_MAX);
  const n = native.sockName(sock, b);
  return n < 2 ? null : b.subarray(0, n);
}

export const socketHandlers: Record<string, Handler> = {
  socket: rawSocket,
  getsockopt,
  // Performed on the Sentry's copy of the socket (the same socket), so an
  // access observer sees it. A unix socket's listen runs on the host: Linux
  // records the listener's credentials then, which its peers read (SO_PEERCRED).
  listen: (k, t, a) =>
    withSocket(k, t, a.int(0), (sock) => {
      if (isUnix(sock)) return CONTINUE;
      assertValid(k, t);
      const r = native.sockListen(sock, a.int(1));
      return k.access ? observed(k, t, 'listen', sock, listenAddress(sock))(r) : r;
    }),
  bind: (k, t, a) => {
    const addr = readAddr(t, a.long(1), a.int(2));
    return withSocket(k, t, a.int(0), (sock) => reporting(observed(k, t, 'bind', sock, addr), () => bind(k, t, sock, addr)));
  },
  connect: (k, t, a) => {
    const addr = readAddr(t, a.long(1), a.int(2));
    return withSocket(k, t, a.int(0), (sock) => {
      const report = observed(k, t, 'connect', sock, addr);
      return reporting(report, () => connect(k, t, sock, addr, report));
    });
  },
  // The filter lets sends without an address run on the host.
  sendto: (k, t, a) =>
    withSocket(k, t, a.int(0), (sock) => {
      const addrLen = a.int(5);
      if (addrLen < 0) fail('EINVAL');
      const guestName = addrLen === 0 ? null : readAddr(t, a.long(4), addrLen);
      const more: [number, number][] = a.long(2) > 0 ? [[a.long(1), a.long(2)]] : [];
      const data = copyChunk(t, more);
      const fds: number[] = [];
      try {
        const name = guestName && withTarget(sendDestination(k, t, sock, guestName, a.long(2), a.int(3)), fds);
        const { control, creds } = hostControl(k, t, null, isUnix(sock) ? { sock, name } : null, fds);
        return send(k, t, sock, { name, guestName, data, control, creds, fds, more }, a.int(3), observed(k, t, 'sendto', sock, guestName));
      } catch (e) {
        closeAll(fds);
        throw e;
      }
    }),
  sendmsg: (k, t, a) =>
    withSocket(k, t, a.int(0), (sock) => {
      const m = readMessage(k, t, sock, a.long(1), isUnix(sock), a.int(2));
      return send(k, t, sock, m, a.int(2), observed(k, t, 'sendmsg', sock, m.guestName));
    }),
  sendmmsg: (k, t, a) =>
    withSocket(k, t, a.int(0), (sock) => {
      const vec = a.long(1);
      const count = Math.min(a.u32(2), UIO_MAXIOV);
      const flags = a.int(3);
      const unix = isUnix(sock);
      const lenOut = Buffer.alloc(4);
      const record = (i: number, r: number) => {
        lenOut.writeUInt32LE(r, 0);
        writeBytes(t, vec + MMSGHDR_SIZE * i + MSGHDR_SIZE, lenOut);
      };
      let sent = 0;
      for (; sent < count; sent++) {
        let m: Message;
        try {
          m = readMessage(k, t, sock, vec + MMSGHDR_SIZE * sent, unix, flags);
        } catch (e) {
          if (sent > 0) return sent;
          throw e;
        }
        const report = observed(k, t, 'sendmsg', sock, m.guestName);
        // Only the first message may wait; later ones end the batch when they would block.
        const r = send(k, t, sock, m, sent === 0 ? flags : flags | MSG_DONTWAIT, (r) => {
          report(r);
          if (r < 0) return r;
          record(sent, r);
          return 1;
        });
        if (r === REPLIED) return REPLIED;
        if (r < 0) return sent > 0 ? sent : r;
      }
      return sent;
    }),
};
