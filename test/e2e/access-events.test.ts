// The Sentry's access events (src/sentry/spec.ts AccessEvents) against the
// real thing: the path calls a program makes, as `strace -f -e trace=%file`
// sees them natively, are the FileAccess events of the same program in the
// sandbox (same calls, same absolute paths, same errnos, and the FileOp each
// call is documented to report); network attempts and denials carry the
// errno the guest saw.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRNO } from '../../src/abi/errno.js';
import { SYSCALLS } from '../../src/syscalls/table.js';
import type { FileAccess } from '../../src/sentry/spec.js';
import { runObserved } from './access-run.js';
import { cProgram } from './differential.js';
import { runSandbox, sh } from './harness.js';

const prog = cProgram('access');

/** Which arguments of a strace line are paths: [dirfd argument or null, path argument], the second pair a rename's or link's target. */
const PATH_ARGS: Record<string, [number | null, number][]> = {
  openat: [[0, 1]], openat2: [[0, 1]], newfstatat: [[0, 1]], statx: [[0, 1]], faccessat: [[0, 1]], faccessat2: [[0, 1]],
  mkdirat: [[0, 1]], mknodat: [[0, 1]], fchmodat: [[0, 1]], fchownat: [[0, 1]], futimesat: [[0, 1]], utimensat: [[0, 1]],
  unlinkat: [[0, 1]], readlinkat: [[0, 1]], execveat: [[0, 1]],
  rename: [[null, 0], [null, 1]], link: [[null, 0], [null, 1]],
  renameat: [[0, 1], [2, 3]], renameat2: [[0, 1], [2, 3]], linkat: [[0, 1], [2, 3]],
  symlink: [[null, 1]], symlinkat: [[1, 2]], inotify_add_watch: [[null, 1]],
};

/** The FileOp each call reports, as docs/design.md ("Access events") documents it, for the calls of access.c. */
const OPS: Record<string, FileAccess['op']> = {
  stat: 'stat', lstat: 'stat', newfstatat: 'stat', statx: 'stat', statfs: 'stat', chdir: 'stat', inotify_add_watch: 'stat',
  getxattr: 'stat', lgetxattr: 'stat', listxattr: 'stat', llistxattr: 'stat',
  access: 'access', faccessat: 'access', faccessat2: 'access', execve: 'exec', execveat: 'exec',
  truncate: 'write', rename: 'rename', renameat: 'rename', renameat2: 'rename',
  mkdir: 'create', mkdirat: 'create', mknod: 'create', mknodat: 'create', link: 'create', linkat: 'create', symlink: 'create', symlinkat: 'create',
  rmdir: 'delete', unlink: 'delete', unlinkat: 'delete', readlink: 'readlink', readlinkat: 'readlink',
  chmod: 'attr', fchmodat: 'attr', chown: 'attr', lchown: 'attr', fchownat: 'attr', utime: 'attr', utimes: 'attr', futimesat: 'attr', utimensat: 'attr',
  setxattr: 'attr', lsetxattr: 'attr', removexattr: 'attr', lremovexattr: 'attr',
};

/** An open's op from its flags as strace prints them (access.c creates every file it opens with O_CREAT). */
function openOp(flags: string): FileAccess['op'] {
  if (flags.includes('O_PATH')) return 'stat';
  if (flags.includes('O_CREAT')) return 'create';
  return /O_WRONLY|O_RDWR|O_TRUNC/.test(flags) ? 'write' : 'read';
}

/** Splits strace's argument list at its top-level commas (strings, braces, brackets and fd paths kept whole). */
function splitArgs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      cur += s.slice(i, j + 1);
      i = j;
      continue;
    }
    if ('{[(<'.includes(c)) depth++;
    if ('}])>'.includes(c)) depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else {
      cur += c;
    }
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

const unquote = (a: string): string => JSON.parse(a.replace(/\\x([0-9a-f]{2})/g, '\\u00$1')) as string;

/** A path argument made absolute as the call resolved it: joined to its dirfd's path (strace -y) or the cwd. */
function absolute(p: string, dirfd: string | undefined, cwd: string): string {
  let base = cwd;
  if (dirfd !== undefined) {
    const m = /<(.*)>$/.exec(dirfd);
    if (m) base = m[1]!;
  }
  const n = path.posix.normalize(p.startsWith('/') ? p : `${base}/${p}`);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** One line per path call: "call op path[ -> to] errno". */
function fromStrace(text: string, cwd: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+ +(\w+)\((.*)\) += (-?\d+|\?)(?:<[^>]*>)?(?: (E[A-Z0-9]+))?/.exec(line);
    if (!m) continue;
    const [, call, argText, , errName] = m as unknown as [string, string, string, string, string | undefined];
    const args = splitArgs(argText);
    const spec = PATH_ARGS[call] ?? [[null, 0]];
    const paths = spec.map(([d, p]) => absolute(unquote(args[p]!), d === null ? undefined : args[d], cwd));
    if (unquote(args[spec[0]![1]]!) === '') continue;
    const errno = errName ? (ERRNO as Record<string, number>)[errName]! : 0;
    const op = call === 'open' || call === 'openat' || call === 'openat2' ? openOp(call === 'openat2' ? args[2]! : args[call === 'open' ? 1 : 2]!) : call === 'creat' ? 'create' : OPS[call];
    out.push(`${call} ${op} ${paths[0]}${paths[1] !== undefined && call !== 'symlink' && call !== 'symlinkat' ? ` -> ${paths[1]}` : ''} ${errno}`);
  }
  return out;
}

const line = (a: FileAccess): string => `${a.call} ${a.op} ${a.path}${a.to !== undefined ? ` -> ${a.to}` : ''} ${a.errno}`;

/** The lines about the program's own doings: its scratch directory (as S) and its execs of other programs. */
function ours(lines: string[], scratch: string, binary: string): string[] {
  return lines
    .filter((l) => l.includes(scratch) || (/^execve(at)? /.test(l) && !l.includes(binary)))
    .map((l) => l.split(scratch).join('S'))
    .sort();
}

describe('access events', () => {
  it('report every path call as strace sees it natively: call, FileOp, absolute path, errno', () => {
    const nativeDir = prog.scratch();
    const traceFile = path.join(prog.dir, 'strace.txt');
    const n = spawnSync('strace', ['-f', '-y', '-qq', '-s', '4096', '-e', 'trace=%file', '-e', 'signal=none', '-o', traceFile, prog.path, nativeDir], {
      encoding: 'latin1',
      timeout: 60000,
    });
    expect(n.status, n.stderr).toBe(0);
    const native = ours(fromStrace(fs.readFileSync(traceFile, 'latin1'), nativeDir), nativeDir, prog.path);
    // Every line of access.c's calls was understood (pids of any width).
    expect(native.length).toBeGreaterThan(80);

    const sandboxDir = prog.scratch();
    const s = runObserved([prog.path, sandboxDir]);
    expect(s.status, s.stderr).toBe(0);
    const sandbox = ours(s.files.map(line), sandboxDir, prog.path);

    expect(sandbox).toEqual(native);
    // The program exercised every path call the table routes to the Sentry,
    // but those tested below or not run as root natively (chroot would move root).
    const called = new Set(native.map((l) => l.split(' ')[0]));
    const elsewhere = new Set(['getdents', 'getdents64', 'bind', 'connect', 'chroot']);
    for (const e of SYSCALLS) if (e.access && !elsewhere.has(e.name)) expect(called, e.name).toContain(e.name);
    // Each FileOp succeeded and failed at least once.
    for (const op of new Set(native.map((l) => l.split(' ')[1]))) {
      const results = native.filter((l) => l.split(' ')[1] === op).map((l) => l.endsWith(' 0'));
      expect(results, op).toContain(true);
      expect(results, op).toContain(false);
    }
  });

  it('report a directory listing once per listing, as `list`', () => {
    const dir = prog.scratch();
    for (const f of ['a', 'b', 'c']) fs.writeFileSync(path.join(dir, f), '');
    const s = runObserved(['/bin/ls', '-a', dir]);
    expect(s.stdout).toBe('.\n..\na\nb\nc\n');
    expect(s.files.filter((f) => f.op === 'list')).toEqual([{ pid: expect.any(Number), op: 'list', call: 'getdents64', path: dir, errno: 0 }]);
  });

  it('report unix socket paths as files and as network attempts', () => {
    const dir = prog.scratch();
    const script = `
import socket, os
a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
a.bind(${JSON.stringify(`${dir}/sock`)}); a.listen(1)
b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
b.connect(${JSON.stringify(`${dir}/sock`)})
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try: c.connect(${JSON.stringify(`${dir}/none`)})
except OSError as e: print(e.errno)
`;
    const s = runObserved(['python3', '-c', script]);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toBe(`${ERRNO.ENOENT}\n`);
    const files = s.files.filter((f) => f.path.startsWith(dir)).map(({ op, call, path: p, errno }) => ({ op, call, path: p, errno }));
    expect(files).toEqual([
      { op: 'create', call: 'bind', path: `${dir}/sock`, errno: 0 },
      { op: 'write', call: 'connect', path: `${dir}/sock`, errno: 0 },
      { op: 'write', call: 'connect', path: `${dir}/none`, errno: ERRNO.ENOENT },
    ]);
    const net = s.network.map(({ call, family, protocol, address, port, errno }) => ({ call, family, protocol, address, port, errno }));
    expect(net).toEqual([
      { call: 'bind', family: 'AF_UNIX', protocol: 'stream', address: `${dir}/sock`, port: null, errno: 0 },
      { call: 'connect', family: 'AF_UNIX', protocol: 'stream', address: `${dir}/sock`, port: null, errno: 0 },
      { call: 'connect', family: 'AF_UNIX', protocol: 'dgram', address: `${dir}/none`, port: null, errno: ERRNO.ENOENT },
    ]);
  });

  it('report network attempts with the errno the guest saw, and what the network refused as a network denial', () => {
    // Each attempt prints the errno the guest got (0: it worked).
    const script = `
import socket
def attempt(f):
    try: f(); print(0)
    except OSError as e: print(e.errno)
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
port = srv.getsockname()[1]
attempt(lambda: socket.socket().connect(("127.0.0.1", port)))
attempt(lambda: socket.socket().connect(("10.1.2.3", 80)))
attempt(lambda: socket.socket(socket.AF_INET6).connect(("2001:db8::1", 443)))
attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"q", ("8.8.8.8", 53)))
attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"q", ("127.0.0.1", port)))
attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).listen(1))
print(port)
`;
    const s = runObserved(['python3', '-c', script]);
    expect(s.status, s.stderr).toBe(0);
    const [connLocal, connFar, conn6, sendFar, sendLocal, listenUdp, port] = s.stdout.trim().split('\n').map(Number) as number[];
    expect(listenUdp).toBe(ERRNO.EOPNOTSUPP);
    expect(connLocal).toBe(0);
    expect([connFar, conn6, sendFar]).toEqual([ERRNO.ENETUNREACH, ERRNO.ENETUNREACH, ERRNO.ENETUNREACH]);
    const net = s.network.map(({ call, family, protocol, address, port: p, errno }) => ({ call, family, protocol, address, port: p, errno }));
    expect(net).toEqual([
      { call: 'bind', family: 'AF_INET', protocol: 'tcp', address: '127.0.0.1', port: 0, errno: 0 },
      { call: 'listen', family: 'AF_INET', protocol: 'tcp', address: '127.0.0.1', port, errno: 0 },
      { call: 'connect', family: 'AF_INET', protocol: 'tcp', address: '127.0.0.1', port, errno: connLocal },
      { call: 'connect', family: 'AF_INET', protocol: 'tcp', address: '10.1.2.3', port: 80, errno: connFar },
      { call: 'connect', family: 'AF_INET6', protocol: 'tcp', address: '2001:db8::1', port: 443, errno: conn6 },
      { call: 'sendto', family: 'AF_INET', protocol: 'udp', address: '8.8.8.8', port: 53, errno: sendFar },
      { call: 'sendto', family: 'AF_INET', protocol: 'udp', address: '127.0.0.1', port, errno: sendLocal },
      { call: 'listen', family: 'AF_INET', protocol: 'udp', address: '0.0.0.0', port: 0, errno: listenUdp },
    ]);
    expect(s.denials.map(({ rule, what, errno }) => ({ rule, what, errno }))).toEqual([
      { rule: 'network', what: 'connect 10.1.2.3:80 (tcp)', errno: ERRNO.ENETUNREACH },
      { rule: 'network', what: 'connect [2001:db8::1]:443 (tcp)', errno: ERRNO.ENETUNREACH },
      { rule: 'network', what: 'sendto 8.8.8.8:53 (udp)', errno: ERRNO.ENETUNREACH },
    ]);
  });

  it('report loopback attempts as network denials when the sandbox has no loopback', () => {
    const script = `
import socket
try: socket.socket().connect(("127.0.0.1", 80)); print(0)
except OSError as e: print(e.errno)
`;
    const s = runObserved(['python3', '-c', script], { doFlags: ['--no-loopback'] });
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toBe(`${ERRNO.ENETUNREACH}\n`);
    expect(s.denials.map(({ rule, what, errno }) => ({ rule, what, errno }))).toEqual([{ rule: 'network', what: 'connect 127.0.0.1:80 (tcp)', errno: ERRNO.ENETUNREACH }]);
  });

  it('report calls refused to every guest (whole, by an argument rule, unknown numbers) with the errno the filter gives without an observer', () => {
    // Each call prints its errno; the same script runs without an observer for the filter's own answers.
    const script = `
import ctypes, fcntl, os, termios
libc = ctypes.CDLL(None, use_errno=True)
def call(nr, *args):
    r = libc.syscall(nr, *args)
    print(ctypes.get_errno() if r < 0 else 0)
call(165, b"x", b"/mnt", b"tmpfs", 0, None)   # mount
call(56, 0x10000000 | 17, 0, 0, 0, 0)            # clone(CLONE_NEWUSER)
call(1000)                                       # no such call
call(16, 0, termios.TIOCSTI, b"x")               # ioctl TIOCSTI
call(16, 0, 0x40086602, 0)                       # ioctl FS_IOC_SETFLAGS: the Sentry refuses it
call(308, os.pidfd_open(os.getpid()), 0x40000000) # setns(CLONE_NEWNET): the Sentry refuses it
`;
    const plain = runSandbox(['python3', '-c', script]);
    expect(plain.status, plain.stderr).toBe(0);
    const s = runObserved(['python3', '-c', script]);
    expect(s.status, s.stderr).toBe(0);
    const errnos = s.stdout.trim().split('\n').map(Number);
    expect(errnos).toEqual(plain.stdout.trim().split('\n').map(Number));
    expect(errnos.slice(0, 4)).toEqual([ERRNO.EPERM, ERRNO.EPERM, ERRNO.ENOSYS, ERRNO.EPERM]);
    const ours = s.denials.filter((d) => d.rule === 'syscall').map(({ what, errno }) => ({ what, errno }));
    expect(ours).toEqual([
      { what: 'mount', errno: ERRNO.EPERM },
      { what: expect.stringMatching(/^clone \(new namespaces/), errno: ERRNO.EPERM },
      { what: 'syscall 1000', errno: ERRNO.ENOSYS },
      { what: 'ioctl (TIOCSTI injects input into the terminal)', errno: ERRNO.EPERM },
      { what: expect.stringMatching(/^ioctl \(argument 1: 0x40086602\)$/), errno: errnos[4] },
      { what: 'setns', errno: ERRNO.EPERM },
    ]);
    expect(errnos[5]).toBe(ERRNO.EPERM);
  });

  it('report EROFS as a read-only denial, a full overlay and the open files limit as limit denials', () => {
    const s = runObserved(sh('touch /sys/x; mkdir /var/tmp/a /var/tmp/b /var/tmp/c /var/tmp/d; (ulimit -n 5; exec 3</etc/hostname 4</etc/hostname 5</etc/hostname); true'), {
      doFlags: ['--overlay-inodes', '3'],
    });
    expect(s.stderr).toMatch(/touch: cannot touch '\/sys\/x': Read-only file system/);
    expect(s.stderr).toMatch(/No space left on device/);
    const ro = s.denials.filter((d) => d.rule === 'read-only');
    expect(ro).toEqual([{ pid: expect.any(Number), rule: 'read-only', what: expect.stringMatching(/^(openat|utimensat) \/sys\/x$/), path: '/sys/x', errno: ERRNO.EROFS }]);
    const full = s.denials.filter((d) => d.rule === 'limit' && d.errno === ERRNO.ENOSPC);
    expect(full.length).toBeGreaterThan(0);
    for (const d of full) expect(d.what).toMatch(/^mkdir \/var\/tmp\/[a-d]: ENOSPC, the overlay or a tmpfs is full/);
    const files = s.denials.filter((d) => d.rule === 'limit' && d.errno !== ERRNO.ENOSPC);
    expect(files).toEqual([{ pid: expect.any(Number), rule: 'limit', what: 'openat /etc/hostname: EMFILE, open files limit (RLIMIT_NOFILE)', path: '/etc/hostname', errno: ERRNO.EMFILE }]);
  });
});
