// /dev and /dev/pts. Device nodes are Sentry objects; opening one asks the
// Gofer for the matching host device from a fixed allowlist (or, for
// /dev/tty, reopens the guest's own controlling terminal).
import fs from 'node:fs';
import {
  DT_CHR,
  O_ACCMODE,
  O_NOCTTY,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  PTS_MAJOR_FIRST,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFMT,
  S_IFSOCK,
  makedev,
  major,
  minor,
  ptsNumber,
} from '../../abi/linux.js';
import { STATX, STATX_FIELDS, native } from '../../platform/native.js';
import type { Stat } from '../../abi/structs.js';
import { ROOT_CREDS, ownerInSandbox } from '../creds.js';
import { check, fail, sysErr } from '../errors.js';
import type { Kernel } from '../kernel.js';
import type { TestChannel } from '../testchannel.js';
import type { Task } from '../task.js';
import { statFromStatx } from './goferfs.js';
import { MemDir, MemFs, MemSpecial, MemSymlink, type SpecialOpener } from './memfs.js';
import type { DirEntry, Node, Opened } from './node.js';

/** Host devices a guest may open, by (major, minor): Gofer device names. */
const HOST_DEVICES = new Map<number, string>([
  [makedev(1, 3), 'null'],
  [makedev(1, 5), 'zero'],
  [makedev(1, 7), 'full'],
  [makedev(1, 8), 'random'],
  [makedev(1, 9), 'urandom'],
  [makedev(5, 2), 'ptmx'],
]);
const TTY = makedev(5, 0);

/** The controlling terminal of a task, reopened from one of its own fds. */
function openControllingTty(k: Kernel, t: Task, flags: number): Opened {
  let ttyNr = 0;
  try {
    const stat = fs.readFileSync(`/proc/${t.tid}/stat`, 'latin1');
    ttyNr = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[4]);
  } catch {
    fail('ENXIO');
  }
  if (!ttyNr) fail('ENXIO');
  const sx = new Float64Array(STATX_FIELDS);
  for (const name of fs.readdirSync(`/proc/${t.tid}/fd`)) {
    const fd = native.pidfdGetfd(t.proc.pidfd(), Number(name));
    if (fd < 0) continue;
    const isTty =
      native.statxFd(fd, sx) === 0 &&
      (sx[STATX.mode]! & S_IFMT) === S_IFCHR &&
      makedev(sx[STATX.rdevMajor]!, sx[STATX.rdevMinor]!) === ttyNr;
    if (isTty) {
      const r = native.reopen(fd, flags & ~0o100 /* O_CREAT */);
      native.close(fd);
      return { fd: check(r), foreign: true };
    }
    native.close(fd);
  }
  void k;
  fail('ENXIO');
}

/** Opens a device, FIFO or socket node for the guest. */
export function specialOpener(k: Kernel): SpecialOpener {
  return (node: MemSpecial, flags: number): Opened => {
    const type = node.mode & S_IFMT;
    if (type === S_IFSOCK) fail('ENXIO');
    if (type !== S_IFCHR) fail('ENXIO');
    if (node.rdev === TTY) {
      if (!k.current) fail('ENXIO');
      return openControllingTty(k, k.current, flags);
    }
    let name = HOST_DEVICES.get(node.rdev);
    const pts = ptsNumber(major(node.rdev), minor(node.rdev));
    if (!name && pts >= 0) name = `pts/${pts}`;
    if (!name) name = givenDevice(k, node.rdev, flags);
    if (!name) fail('ENXIO');
    const r = k.gofer.device(name, flags & (O_ACCMODE | 0o4000 /* O_NONBLOCK */ | 0o400 /* O_NOCTTY */));
    if (typeof r === 'number') throw sysErr(-r);
    if (name === 'ptmx') notePty(k, r.fd);
    // A pty's master never becomes a controlling terminal on open; its slave may (opened for reading, without O_NOCTTY).
    const acc = flags & O_ACCMODE;
    return { fd: r.fd, ctty: pts >= 0 && !(flags & O_NOCTTY) && (acc === O_RDONLY || acc === O_RDWR) };
  };
}

/**
 * A host device linux.devices passed through, by number: its host name for
 * the Gofer, once the devices cgroup rules allow the access (EPERM as the
 * cgroup gives under runc); undefined for a number the spec did not give.
 */
function givenDevice(k: Kernel, rdev: number, flags: number): string | undefined {
  const d = k.spec.devices?.find((x) => x.rdev === rdev && x.host !== undefined);
  if (!d) return undefined;
  const acc = flags & O_ACCMODE;
  if ((acc !== O_WRONLY && !d.access?.read) || (acc !== O_RDONLY && !d.access?.write)) fail('EPERM');
  return d.host;
}

/** Terminals /dev/pts lists at most (the oldest are forgotten past it; a lookup still finds them). */
const LISTED_PTYS_MAX = 4096;
const listedPtys = new WeakMap<Kernel, Set<number>>();

/** The terminal numbers the sandbox's ptmx opens made (and its console's), for /dev/pts listings. */
export function ptysOf(k: Kernel): Set<number> {
  let set = listedPtys.get(k);
  if (!set) listedPtys.set(k, (set = new Set()));
  return set;
}

/** Records the terminal a ptmx fd made: its number is in the fd's fdinfo (tty-index). */
function notePty(k: Kernel, fd: number): void {
  let info = '';
  try {
    info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
  } catch {
    return;
  }
  const m = /^tty-index:\s*(\d+)$/m.exec(info);
  if (!m) return;
  const set = ptysOf(k);
  set.add(Number(m[1]));
  if (set.size > LISTED_PTYS_MAX) set.delete(set.values().next().value!);
}

/** /dev as Docker and runc populate it; `console`, the container's terminal, is /dev/console. */
export function buildDev(opener: SpecialOpener, console?: { pts: number; probe: PtsProbe }): { fs: MemFs; root: MemDir } {
  // Docker's /dev: a tmpfs of 64 MiB.
  const devFs = new MemFs('tmpfs', 64 << 20);
  const root = new MemDir(devFs, 0o755, 0, 0, opener);
  const chr = (name: string, maj: number, min: number, mode = 0o666) =>
    root.insert(name, new MemSpecial(devFs, S_IFCHR | mode, makedev(maj, min), 0, 0, opener));
  chr('null', 1, 3);
  chr('zero', 1, 5);
  chr('full', 1, 7);
  chr('random', 1, 8);
  chr('urandom', 1, 9);
  chr('tty', 5, 0);
  if (console) {
    const host = console.probe(console.pts);
    if (host) root.insert('console', new PtsNode(devFs, console.pts, host, opener));
  }
  const link = (name: string, target: string) => root.insert(name, new MemSymlink(devFs, target, 0, 0));
  link('ptmx', 'pts/ptmx');
  link('fd', '/proc/self/fd');
  link('stdin', '/proc/self/fd/0');
  link('stdout', '/proc/self/fd/1');
  link('stderr', '/proc/self/fd/2');
  link('core', '/proc/kcore');
  root.mkdir('pts', 0o755, ROOT_CREDS);
  root.mkdir('shm', 0o1777, ROOT_CREDS);
  root.mkdir('mqueue', 0o755, ROOT_CREDS);
  return { fs: devFs, root };
}

/**
 * A pty slave. The Gofer owns the real devpts; this node shows the real
 * one's identity (dev, inode, times), so ttyname() finds the terminal behind
 * an fd under /dev/pts/N, as natively.
 */
class PtsNode extends MemSpecial {
  constructor(
    fs: MemFs,
    readonly n: number,
    private readonly host: Stat,
    opener: SpecialOpener,
  ) {
    super(fs, S_IFCHR | (host.mode & 0o7777), makedev(PTS_MAJOR_FIRST, n), host.uid, host.gid, opener);
  }
  override stat(): Stat {
    return { ...this.host };
  }
  override sameObject(other: Node): boolean {
    return other instanceof PtsNode && other.n === this.n && other.host.dev === this.host.dev && other.host.ino === this.host.ino;
  }
}

/** The real /dev/pts/N's attributes, or null when there is no such terminal. */
export type PtsProbe = (n: number) => Stat | null;

export function ptsProbe(k: Kernel): PtsProbe {
  return (n) => {
    const r = k.gofer.device(`pts/${n}`, O_RDONLY | O_NOCTTY | O_NONBLOCK);
    if (typeof r === 'number') return null;
    native.close(r.fd);
    // The sandbox's own devpts (the Gofer's): its owners are the ids the
    // Gofer gives its terminals (its own, standing for the sandbox's root,
    // and the tty group), whatever the guest's user namespace maps.
    const s = statFromStatx(r.stat);
    sandboxPtsDev.set(k, s.dev);
    return s;
  };
}

/** The device of the sandbox's devpts, once a probe (the console's, at the latest) saw it. */
const sandboxPtsDev = new WeakMap<Kernel, number>();

/**
 * The owners the sandbox shows for a host object the Sentry did not make
 * (statx `sx`): the host's mapped into the sandbox, but a terminal of the
 * sandbox's own devpts (the console given as stdio) keeps the Gofer's, as
 * /dev/pts shows them.
 */
export function hostObjectOwners(k: Kernel, sx: Float64Array): [number, number] {
  const uid = sx[STATX.uid]!;
  const gid = sx[STATX.gid]!;
  const pts = (sx[STATX.mode]! & S_IFMT) === S_IFCHR && ptsNumber(sx[STATX.rdevMajor]!, sx[STATX.rdevMinor]!) >= 0;
  if (pts && makedev(sx[STATX.devMajor]!, sx[STATX.devMinor]!) === sandboxPtsDev.get(k)) return [uid, gid];
  return [ownerInSandbox('uid', uid), ownerInSandbox('gid', gid)];
}

/** Adds a spec's device node (OCI linux.devices) at `path` under /dev, making directories on the way and replacing a node of the same name. */
export function addDevice(root: MemDir, dev: { path: string; rdev: number; mode: number; uid: number; gid: number }): void {
  const { dir, name } = placeUnderDev(root, dev.path);
  dir.insert(name, new MemSpecial(dir.fs, S_IFCHR | (dev.mode & 0o7777), dev.rdev, dev.uid, dev.gid, dir.opener));
}

/** The directory and name of /dev path `path` (its directories made, a node of that name removed). */
function placeUnderDev(root: MemDir, path: string): { dir: MemDir; name: string } {
  const parts = path.split('/').filter(Boolean).slice(1);
  const name = parts.pop()!;
  let dir = root;
  for (const part of parts) {
    const next = dir.entries.get(part);
    if (next instanceof MemDir) dir = next;
    else {
      if (next) fail('ENOTDIR');
      dir = dir.mkdir(part, 0o755, ROOT_CREDS) as MemDir;
    }
  }
  dir.entries.delete(name);
  return { dir, name };
}

/**
 * The per-test channel's node (testchannel.ts): a FIFO anyone may write and
 * no one read. Each open for writing installs a new write end of the pipe
 * the Sentry reads; an open for reading fails with EACCES, even for root (the
 * markers are the Sentry's), also through /proc/self/fd (the magic link
 * reopens this node).
 */
class TestChannelNode extends MemSpecial {
  constructor(fs: MemFs, ch: TestChannel) {
    super(fs, S_IFIFO | 0o222, 0, 0, 0, (_node, flags) => {
      if ((flags & O_ACCMODE) !== O_WRONLY) fail('EACCES');
      return { fd: ch.openWriter(flags) };
    });
  }
  /** Opened by open(), not as a FIFO of the file system. */
  override fifo(): number {
    return -1;
  }
}

/** Adds the test channel's node at `path` (SandboxSpec.testChannel, under /dev). */
export function addTestChannel(root: MemDir, path: string, ch: TestChannel): void {
  const { dir, name } = placeUnderDev(root, path);
  dir.insert(name, new TestChannelNode(dir.fs as MemFs, ch));
}

/** A devpts instance: ptmx and whichever pts/N exists (the Gofer owns the real ones). */
class PtsDir extends MemDir {
  constructor(
    fs: MemFs,
    opener: SpecialOpener,
    private readonly probe: PtsProbe,
    private readonly ptys: Set<number>,
  ) {
    super(fs, S_IFDIR | 0o755, 0, 0, opener);
  }
  override lookup(name: string): Node | null {
    const have = this.entries.get(name);
    if (have) return have;
    if (!/^(0|[1-9]\d{0,6})$/.test(name)) return null;
    const host = this.probe(Number(name));
    return host ? new PtsNode(this.fs as MemFs, Number(name), host, this.opener) : null;
  }
  /** ptmx and the sandbox's terminals that still exist (the host's devpts instance is the Gofer's to list). */
  override readdir(): DirEntry[] {
    const out = super.readdir();
    for (const n of [...this.ptys].sort((a, b) => a - b)) {
      const host = this.probe(n);
      if (host) out.push({ name: String(n), ino: host.ino, type: DT_CHR });
      else this.ptys.delete(n);
    }
    return out;
  }
}

/**
 * A devpts instance's nodes live only as long as their terminal: every
 * lookup asks again (a pts/N whose master was closed is gone, as on Linux),
 * keeping the dentry while the same terminal is found.
 */
class DevPtsFs extends MemFs {
  override readonly cache = 'revalidate';
}

export function buildDevPts(opener: SpecialOpener, probe: PtsProbe, ptys: Set<number>): { fs: MemFs; root: MemDir } {
  const ptsFs = new DevPtsFs('devpts', 1 << 20);
  const root = new PtsDir(ptsFs, opener, probe, ptys);
  root.insert('ptmx', new MemSpecial(ptsFs, S_IFCHR | 0o666, makedev(5, 2), 0, 0, opener));
  return { fs: ptsFs, root };
}
