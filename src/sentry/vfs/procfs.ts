// The Sentry's /proc. Files are generated when opened (into a memfd the
// guest reads natively). Per-process data comes from the host's /proc of the
// real process with every pid translated into the sandbox's pid namespace and
// every path into the sandbox's tree; nothing about the host leaks through.
import fs from 'node:fs';
import os from 'node:os';
import {
  DT_DIR,
  DT_LNK,
  DT_REG,
  CAP_SYS_PTRACE,
  CAP_SYS_RESOURCE,
  O_ACCMODE,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECT,
  O_DIRECTORY,
  O_NONBLOCK,
  O_PATH,
  O_RDONLY,
  O_RDWR,
  O_REOPEN_FLAGS,
  O_TRUNC,
  O_WRONLY,
  PROC_SUPER_MAGIC,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  major,
  makedev,
  minor,
  ptsNumber,
  PATH_MAX,
  X_OK,
  AT_BASE,
  AT_EXECFN,
} from '../../abi/linux.js';
import type { Stat, StatFs } from '../../abi/structs.js';
import { STATX, STATX_FIELDS, native } from '../../platform/native.js';
import { type Creds, hasCap, mayTrace, ownerInSandbox, toSandboxId } from '../creds.js';
import { TSVISOR_IDS, mapLines } from '../idmap.js';
import { INSTANCES_MAX, WATCHES_MAX } from '../inotify/watches.js';
import { check, fail } from '../errors.js';
import { BoundedLru } from '../lru.js';
import { memfdHolding } from '../memfd.js';
import type { Kernel } from '../kernel.js';
import { KERNEL_IDENTITY, ownUtsns } from '../syscalls/uts.js';
import { type Process, type Task, hostComm } from '../task.js';
import { hostObjectOwners } from './devfs.js';
import { anonDev } from './memfs.js';
import { type DirEntry, Dentry, type FileSystem, type Location, type Mount, Node, type Opened, type SeekEnd } from './node.js';
import { linkText, pathOf } from './resolve.js';

type Content = () => string | Buffer;

export class ProcFs implements FileSystem {
  readonly dev = anonDev();
  readonly type = 'proc';
  readonly cache = 'none';
  readonly root: ProcDir;
  mount!: Mount;

  constructor(readonly k: Kernel) {
    this.root = new ProcDir(this, '', 0o555, () => rootEntries(this), (name) => rootLookup(this, name));
  }

  /** A stable inode number for a path, computed from it (a table of every path ever looked up would grow without a bound); the root's is 1, as Linux's. */
  ino(path: string): number {
    return path === '' ? 1 : pathIno(path);
  }

  statfs(): StatFs {
    return { type: PROC_SUPER_MAGIC, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, fsid: [0, 0], namelen: 255, frsize: 4096, flags: 0 };
  }

  /** Linux's /proc directories seek as empty files; its files as their kind (ProcFile.seek); links and namespaces are the host's objects. */
  seekEnd(node: Node): SeekEnd {
    if (node instanceof ProcDir) return 0;
    if (node instanceof ProcFile) return node.seek;
    return 'host';
  }

  /** A location inside /proc for a synthetic node (used by magic links). */
  at(node: Node, name: string): Location {
    return { mount: this.mount, dentry: new Dentry(name, this.mount.root, node) };
  }
}

/** A 52-bit hash of the path (two FNV-1a variants), never 0: collisions are as unlikely as between random 52-bit numbers. */
function pathIno(path: string): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (b >>> 12) * 2 ** 32 + (a >>> 0) || 1;
}

/** /proc's files have no direct I/O: O_DIRECT opens fail (the memfd of a snapshot would take it). */
function refuseDirect(flags: number): void {
  if (flags & O_DIRECT) fail('EINVAL');
}

abstract class ProcNode extends Node {
  constructor(
    readonly fs: ProcFs,
    readonly path: string,
    protected readonly modeBits: number,
    protected readonly owner: Process | null = null,
  ) {
    super();
  }
  get mode(): number {
    return this.modeBits;
  }
  override permits(c: Creds, st: Stat, want: number): boolean {
    return this.path.startsWith('/sys/') ? sysctlPermits(this.path, c, st, want) : super.permits(c, st, want);
  }
  stat(): Stat {
    const t = Math.floor((this.owner?.startTime ?? this.fs.k.startTime) / 1000);
    const uid = this.owner ? ownerUid(this.owner, this.modeBits !== (S_IFDIR | 0o555)) : 0;
    return {
      dev: this.fs.dev, ino: this.fs.ino(this.path), mode: this.modeBits, nlink: this.isDir() ? 2 : 1,
      uid, gid: uid, rdev: 0, size: 0, blksize: 1024, blocks: 0,
      atimeSec: t, atimeNsec: 0, mtimeSec: t, mtimeNsec: 0, ctimeSec: t, ctimeNsec: 0, btimeSec: 0, btimeNsec: 0,
    };
  }
}

/**
 * sysctl_perm: /proc/sys's files and directories are accessed by their mode
 * bits alone, never by capabilities: root's (euid 0) are the owner's, the
 * root group's the group's, everyone else's the others'. A net sysctl
 * (net_ctl_permissions) gives the owner's bits to CAP_NET_ADMIN over the
 * network namespace, which the sandbox never holds (docs/design.md), and
 * the group's to the namespace's root group, the host's: a guest gets the
 * others' bits.
 */
function sysctlPermits(path: string, c: Creds, st: Stat, want: number): boolean {
  if (want & X_OK && (st.mode & S_IFMT) !== S_IFDIR) return false;
  const net = path.startsWith('/sys/net/');
  const shift = net ? 0 : c.euid === 0 ? 6 : c.egid === 0 || c.groups.includes(0) ? 3 : 0;
  return (((st.mode >> shift) & 7) & want) === want;
}

class ProcDir extends ProcNode {
  constructor(
    fs: ProcFs,
    path: string,
    perm: number,
    private readonly list: () => DirEntry[],
    private readonly find: (name: string) => Node | null,
    owner: Process | null = null,
    /** what Linux shows of this directory besides the common attributes (subdirectories in nlink, the fd count as fd's size) */
    private readonly adjust: (st: Stat) => void = () => {},
  ) {
    super(fs, path, S_IFDIR | perm, owner);
  }
  override stat(): Stat {
    const st = super.stat();
    this.adjust(st);
    return st;
  }
  override lookup(name: string): Node | null {
    return this.find(name);
  }
  override readdir(): DirEntry[] {
    return this.list();
  }
}

class ProcFile extends ProcNode {
  constructor(
    fs: ProcFs,
    path: string,
    private readonly content: Content,
    perm = 0o444,
    owner: Process | null = null,
    /** most are seq_files; the writable ones and cmdline, environ, auxv seek as empty files */
    readonly seek: SeekEnd = 'seq',
    /** the host's file of the same kind, which has no write either (see open) */
    private readonly twin: string | null = null,
  ) {
    super(fs, path, S_IFREG | perm, owner);
  }
  override open(flags: number): Opened {
    refuseDirect(flags);
    if ((flags & O_ACCMODE) !== O_RDONLY && !(this.modeBits & 0o200)) {
      // Root may open a file without write for writing (CAP_DAC_OVERRIDE; the
      // caller checked), and each write then fails: the host's file of the
      // same kind, write-only, fails them as Linux's (EIO, EINVAL).
      if ((flags & O_ACCMODE) !== O_WRONLY || !this.twin) fail('EACCES');
      try {
        return { fd: fs.openSync(this.twin, flags & O_REOPEN_FLAGS) };
      } catch {
        fail('ESRCH');
      }
    }
    const m = memfdHolding(`proc:${this.path}`, this.content());
    // Writable proc files (loginuid) accept writes that change nothing.
    const fd = native.reopen(m, flags & O_REOPEN_FLAGS);
    if (fd >= 0 && this.ofMemory && this.owner && !this.owner.exited) keepMemorySnapshot(this.owner, m);
    else native.close(m);
    return { fd: check(fd) };
  }
  /** the file shows the process's memory (cmdline, environ, maps): an open one reads nothing once the process is gone */
  ofMemory = false;
}

/** Snapshots of processes' memory the Sentry keeps to empty at their exit, all processes together (the oldest past it keep their contents). */
const MEMORY_SNAPSHOTS_MAX = 64;
const memorySnapshots = new BoundedLru<number, Process>(MEMORY_SNAPSHOTS_MAX, (m) => native.close(m));

/**
 * Keeps the Sentry's fd of a snapshot of `p`'s memory (a memfd the guest
 * holds a reopen of): when `p` exits, its contents go (memoryGone), as
 * Linux reads nothing from a zombie's command line, environment or maps.
 */
function keepMemorySnapshot(p: Process, m: number): void {
  memorySnapshots.set(m, p);
}

/** `p` exited: the open snapshots of its memory read as empty from now on. */
export function memoryGone(p: Process): void {
  for (const [m, owner] of memorySnapshots) {
    if (owner !== p) continue;
    native.ftruncate(m, 0);
    native.close(m);
    memorySnapshots.delete(m);
  }
}

/**
 * A per-process file whose writes go to the host's file of the same process
 * (oom_score_adj): the guest writes through an fd the Sentry opened, so Linux
 * applies and checks the value as it would for the guest itself.
 */
class HostWritableProcFile extends ProcFile {
  constructor(
    fs: ProcFs,
    path: string,
    private readonly hostPath: string,
    owner: Process,
    content: Content = () => hostRead(hostPath),
    seek: SeekEnd = 0,
  ) {
    super(fs, path, content, 0o644, owner, seek);
  }
  override open(flags: number): Opened {
    refuseDirect(flags);
    if ((flags & O_ACCMODE) === O_RDONLY) return super.open(flags);
    const open = (): number => {
      try {
        return fs.openSync(this.hostPath, flags & O_REOPEN_FLAGS);
      } catch {
        fail('ESRCH');
      }
    };
    return { fd: ofProcess(this.owner!, open, undefined, (fd) => native.close(fd)) };
  }
}

/** /proc/[pid]/oom_score_adj, kept by the Sentry once a writer holding CAP_SYS_RESOURCE lowers it (src/sentry/oom.ts). */
class OomScoreAdjFile extends ProcFile {
  constructor(
    fs: ProcFs,
    path: string,
    private readonly p: Process,
  ) {
    super(fs, path, () => `${p.oom.value(p.tgid)}\n`, 0o644, p, 0);
  }
  override open(flags: number): Opened {
    refuseDirect(flags);
    if ((flags & O_ACCMODE) === O_RDONLY) return super.open(flags);
    const t = this.fs.k.current;
    const open = (): number => {
      try {
        return this.p.oom.openWrite(this.p.tgid, flags, !!t && hasCap(t.creds, CAP_SYS_RESOURCE));
      } catch {
        fail('ESRCH');
      }
    };
    return { fd: ofProcess(this.p, open, undefined, (fd) => native.close(fd)) };
  }
}

/** A symlink; magic ones (fd/N, exe, cwd, root) resolve to a location, not to their text. */
class ProcLink extends ProcNode {
  constructor(
    fs: ProcFs,
    path: string,
    private readonly text: () => string,
    private readonly target: (() => Location | null) | null = null,
    owner: Process | null = null,
    /** Linux reads and follows it only for a caller that may trace the owner (proc_fd_access_allowed) */
    private readonly traced = false,
    permissions = 0o777,
  ) {
    super(fs, path, S_IFLNK | permissions, owner);
  }
  override readlink(): string {
    const text = this.traced ? withTraceAccess(this.fs.k, this.owner!, this.text) : this.text();
    // Linux's d_path builds a link's text in one page.
    if (this.target && text.length >= PATH_MAX) fail('ENAMETOOLONG');
    return text;
  }
  override magicLink(): Location | null {
    if (!this.target) return null;
    return this.traced ? withTraceAccess(this.fs.k, this.owner!, this.target) : this.target();
  }
}

/**
 * A guest fd that is not a Sentry object (pipe, socket, an fd the host gave
 * the guest as stdio), reached through /proc/[pid]/fd/N. Reopening it never
 * grants more than the fd itself holds: no write access through a read-only
 * fd (a host file given as stdin stays read-only), no read access through a
 * write-only one, appends stay appends. Linux would check the inode's
 * permissions instead; a host object has no sandbox permissions to check.
 */
class HostFdNode extends Node {
  constructor(
    readonly fs: ProcFs,
    private readonly proc: Process,
    private readonly guestFd: number,
    private readonly st: Stat,
  ) {
    super();
  }
  get mode(): number {
    return this.st.mode;
  }
  stat(): Stat {
    return this.st;
  }
  override open(flags: number): Opened {
    const fd = native.pidfdGetfd(this.proc.pidfd(), this.guestFd);
    if (fd < 0) fail('ENOENT');
    try {
      const held = check(native.fcntlGetfl(fd));
      const acc = held & O_ACCMODE;
      const want = flags & O_ACCMODE;
      const canRead = !(held & O_PATH) && (acc === O_RDONLY || acc === O_RDWR);
      const canWrite = !(held & O_PATH) && (acc === O_WRONLY || acc === O_RDWR);
      const wantsRead = !(flags & O_PATH) && want !== O_WRONLY;
      const wantsWrite = !(flags & O_PATH) && (want !== O_RDONLY || (flags & O_TRUNC) !== 0);
      if ((wantsRead && !canRead) || (wantsWrite && !canWrite)) fail('EACCES');
      // A FIFO's blocking open waits for its other side, never in the Sentry:
      // its event loop stopped with it (a reader of a host FIFO without a
      // writer hung the sandbox, deaf to tsvisor's own signals).
      const sx = new Float64Array(STATX_FIELDS);
      const fifo = native.statxFd(fd, sx) === 0 && (sx[STATX.mode]! & S_IFMT) === S_IFIFO;
      // Not the Sentry's object either: identified as the host object it is.
      const r = check(native.reopen(fd, (flags & ~O_CREAT) | (held & O_APPEND) | (fifo ? O_NONBLOCK : 0)));
      if (fifo && !(flags & O_NONBLOCK)) native.fcntlSetfl(r, native.fcntlGetfl(r) & ~O_NONBLOCK);
      return { fd: r, foreign: true };
    } finally {
      native.close(fd);
    }
  }
}

/** Host devices that /proc/[pid]/fd names by their /dev path (the ones the sandbox's /dev has). */
const DEVICE_NAMES = new Map<number, string>([
  [makedev(1, 3), '/dev/null'],
  [makedev(1, 5), '/dev/zero'],
  [makedev(1, 7), '/dev/full'],
  [makedev(1, 8), '/dev/random'],
  [makedev(1, 9), '/dev/urandom'],
]);

/**
 * The /proc/[pid]/fd name of a guest fd that is not a Sentry object. Kernel
 * names without a path (pipe:[N], socket:[N], anon_inode:..., a guest's own
 * memfd) are shown as Linux shows them; a host path never is: the devices the
 * sandbox also has get their /dev name, a file of the root or of a bind mount
 * its sandbox path, anything else "host:[inode]" (see sandboxPathOfHostFile).
 */
function foreignFdName(k: Kernel, hostText: string, sx: Float64Array): string {
  if ((sx[STATX.mode]! & S_IFMT) === S_IFCHR && hostText.startsWith('/')) {
    const dev = DEVICE_NAMES.get(makedev(sx[STATX.rdevMajor]!, sx[STATX.rdevMinor]!));
    if (dev) return dev;
    return `host:[${sx[STATX.ino]}]`;
  }
  return sandboxPathOfHostFile(k, hostText, sx[STATX.ino]!);
}

/**
 * The owner Linux gives a process's /proc files (task_dump_owner): its
 * effective uid, or, unless `file` is false (the world-readable directory
 * /proc/[pid] itself), root when it is not dumpable (after a set-id exec,
 * PR_SET_DUMPABLE 0: the Sentry's record, or the host's own file).
 */
function ownerUid(p: Process, file: boolean): number {
  if (file && !p.dumpable) return 0;
  if (file) {
    try {
      return ownerInSandbox('uid', fs.statSync(`/proc/${p.tgid}/status`).uid);
    } catch {
      // gone: its last credentials
    }
  }
  const leader = p.threads.values().next().value as Task | undefined;
  try {
    return leader ? leader.creds.euid : 0;
  } catch {
    return 0;
  }
}

function hostRead(path: string): string {
  try {
    return fs.readFileSync(path, 'latin1');
  } catch {
    fail('ENOENT');
  }
}

/** Host pid -> sandbox pid for every task the Sentry knows; 0 for anything else (outside the sandbox). */
function pidMap(k: Kernel): (hostPid: number) => number {
  return (h: number) => {
    if (h === 0) return 0;
    const t = k.tasks.get(h);
    if (t) return t.nsTid;
    const p = k.procs.get(h) ?? k.zombie(h);
    return p ? p.pid : 0;
  };
}

function leaderOf(p: Process): Task | undefined {
  return p.threads.get(p.tgid) ?? (p.threads.values().next().value as Task | undefined);
}

function findProc(k: Kernel, pid: number): Process | undefined {
  for (const p of k.procs.values()) if (p.pid === pid && !p.exited) return p;
  return k.liveZombies().find((p) => p.pid === pid);
}

function currentProc(pfs: ProcFs): Process {
  const t = pfs.k.current;
  if (!t) fail('ENOENT');
  return t.proc;
}

// ---- generated files -------------------------------------------------

/**
 * The host's /proc directory of thread `hostTid` of `p`: a thread other than
 * the leader is named under its thread group, so that once it is gone its
 * tid, maybe another host process's by then, reaches nothing (the group
 * itself is checked by ofProcess).
 */
function hostTaskDir(p: Process, hostTid: number): string {
  return hostTid === p.tgid ? `/proc/${p.tgid}` : `/proc/${p.tgid}/task/${hostTid}`;
}

/** /proc/[pid]/stat with pid fields (pid, ppid, pgrp, session, tpgid) translated. */
function statLine(k: Kernel, hostTid: number, p: Process, comm: string): string {
  const s = hostRead(`${hostTaskDir(p, hostTid)}/stat`);
  const close = s.lastIndexOf(')');
  const f = s.slice(close + 2).trimEnd().split(' ');
  const map = pidMap(k);
  f[1] = String(p.parent?.pid ?? 0);
  f[2] = String(map(Number(f[2])));
  f[3] = String(map(Number(f[3])));
  f[5] = String(Number(f[5]) > 0 ? map(Number(f[5])) : f[5]);
  // The task reading its own stat is running; the host shows it waiting for the Sentry.
  f[0] = guestState(k, hostTid, f[0]!);
  // A nice value the Sentry keeps (syscalls/priority.ts): fields 18 (priority) and 19 (nice).
  const kept = k.tasks.get(hostTid)?.keptNice;
  if (kept && Number(f[16]) === kept.host) {
    f[15] = String(20 + kept.nice);
    f[16] = String(kept.nice);
  }
  // Field 22, the start time in ticks after the sandbox's boot.
  f[19] = String(Math.max(0, Number(f[19]) - hostTicksAtBoot(k)));
  const tid = k.tasks.get(hostTid)?.nsTid ?? p.pid;
  return `${tid} (${comm}) ${f.join(' ')}\n`;
}

function childrenText(k: Kernel, p: Process, hostTid: number): string {
  const map = pidMap(k);
  return hostRead(`/proc/${p.tgid}/task/${hostTid}/children`)
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((h) => map(Number(h)))
    .filter((pid) => pid > 0)
    .sort((a, b) => a - b)
    .map((pid) => `${pid} `)
    .join('');
}

function statusText(k: Kernel, hostTid: number, p: Process, comm: string): string {
  const map = pidMap(k);
  const tid = k.tasks.get(hostTid)?.nsTid ?? p.pid;
  return hostRead(`${hostTaskDir(p, hostTid)}/status`)
    .split('\n')
    .map((line) => {
      const [key, rest = ''] = line.split(/:\t?/, 2) as [string, string?];
      switch (key) {
        case 'Name':
          return `Name:\t${comm}`;
        case 'Tgid':
          return `Tgid:\t${p.pid}`;
        case 'Pid':
          return `Pid:\t${tid}`;
        case 'PPid':
          return `PPid:\t${p.parent?.pid ?? 0}`;
        case 'TracerPid':
          return 'TracerPid:\t0';
        case 'State': {
          const letter = rest.trim().charAt(0);
          const state = guestState(k, hostTid, letter);
          return state === letter ? line : `State:\t${STATE_NAMES[state]}`;
        }
        case 'NStgid':
          return `NStgid:\t${p.pid}`;
        case 'NSpid':
          return `NSpid:\t${tid}`;
        case 'NSpgid':
        case 'NSsid':
          return `${key}:\t${map(Number(rest.trim().split(/\s+/).pop()))}`;
        case 'Uid':
        case 'Gid':
          return `${key}:\t${rest.trim().split(/\s+/).map((v) => ownerInSandbox(key === 'Uid' ? 'uid' : 'gid', Number(v))).join('\t')}`;
        case 'Groups':
          return `Groups:\t${rest.trim().split(/\s+/).filter(Boolean).map((v) => ownerInSandbox('gid', Number(v))).join(' ')}${rest.trim() ? ' ' : ''}`;
        case 'Seccomp':
          return 'Seccomp:\t0';
        case 'Seccomp_filters':
          return 'Seccomp_filters:\t0';
        default:
          return line;
      }
    })
    .join('\n');
}

/** /proc/[pid]/maps or smaps with host paths replaced by sandbox paths. */
function mapsText(k: Kernel, p: Process, file = 'maps'): string {
  const root = leaderOf(p)?.fs.root ?? k.mounts.root;
  return hostRead(`/proc/${p.tgid}/${file}`)
    .split('\n')
    .map((line) => {
      const m = /^(\S+ \S+ \S+ )([0-9a-f]+):([0-9a-f]+) (\d+)(\s+)(.*)$/.exec(line);
      if (!m || m[4] === '0') return line;
      const file = k.files.byHostKey(parseInt(m[2]!, 16), parseInt(m[3]!, 16), Number(m[4]));
      const path = (file && linkText(root, file.loc)) ?? sandboxPathOfHostFile(k, m[6]!, Number(m[4]));
      return `${m[1]}${m[2]}:${m[3]} ${m[4]}${m[5]}${path}`;
    })
    .join('\n');
}

/**
 * The sandbox path of a host file the Sentry has no object for (mapped, or
 * given to the guest as stdio): a file of the root or of a bind mount, by its
 * export's host path; anything else (kernel names such as [heap], pipe:[N] or
 * a guest's memfd aside) is named "host:[inode]", as gVisor names files the
 * host gave it, so no host path reaches the guest.
 */
function sandboxPathOfHostFile(k: Kernel, hostPath: string, ino: number): string {
  if (!hostPath.startsWith('/') || hostPath.startsWith('/memfd:')) return hostPath;
  const exports: [string, string][] = [[k.spec.rootfs, '/']];
  for (const m of k.spec.mounts) if (m.type === 'bind' && m.source) exports.push([m.source, m.destination]);
  exports.sort((a, b) => b[0].length - a[0].length);
  for (const [host, dest] of exports) {
    const base = host.endsWith('/') ? host : `${host}/`;
    if (hostPath === host) return dest;
    if (hostPath.startsWith(base)) return `${dest.endsWith('/') ? dest : `${dest}/`}${hostPath.slice(base.length)}`;
  }
  return `host:[${ino}]`;
}

/** A field of /proc/mounts and mountinfo as Linux writes it (mangle(): space, tab, newline and backslash in octal). */
function mangle(field: string): string {
  return field.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

function mountLines(k: Kernel, root: Location, info: boolean): string {
  const out: string[] = [];
  const walk = (m: Mount) => {
    const path = pathOf(root, { mount: m, dentry: m.root });
    const at = path === null ? null : mangle(path);
    if (at !== null) {
      const o = m.opts;
      const flags = [o.readonly ? 'ro' : 'rw', o.nosuid ? 'nosuid' : '', o.nodev ? 'nodev' : '', o.noexec ? 'noexec' : '', o.strictatime ? '' : 'relatime'].filter(Boolean).join(',');
      const data = o.data ? `,${o.data}` : '';
      if (info) {
        const dev = m.fs.dev;
        out.push(`${m.id} ${m.parent?.id ?? 1} ${major(dev)}:${minor(dev)} / ${at} ${flags} - ${m.fs.type} ${mangle(o.source)} ${o.readonly ? 'ro' : 'rw'}${data}`);
      } else {
        out.push(`${mangle(o.source)} ${at} ${m.fs.type} ${flags}${data} 0 0`);
      }
    }
    for (const c of m.children) walk(c);
  };
  walk(k.mounts.root.mount);
  return out.join('\n') + '\n';
}

/**
 * The host's uptime in clock ticks (USER_HZ, 100) when the sandbox started.
 * The sandbox boots at its start (/proc/uptime and sysinfo count from there),
 * so a process's start time (/proc/<pid>/stat field 22) and /proc/stat's
 * btime are shifted by it, as Linux shifts them in a time namespace: a start
 * time stays below the uptime, and btime plus a start time is still the
 * wall-clock start. Measured once per kernel, so a start time reads the same
 * every time (a pid's identity is its start time).
 */
const bootTicks = new WeakMap<Kernel, number>();
function hostTicksAtBoot(k: Kernel): number {
  let t = bootTicks.get(k);
  if (t === undefined) {
    const hostUptime = Number(hostRead('/proc/uptime').split(' ')[0]);
    t = Math.max(0, Math.round(hostUptime * 100 - (Date.now() - k.startTime) / 10));
    bootTicks.set(k, t);
  }
  return t;
}

/** /proc/stat with btime moved to the sandbox's boot. */
function procStatText(k: Kernel): string {
  const shift = Math.round(hostTicksAtBoot(k) / 100);
  return hostRead('/proc/stat').replace(/^btime (\d+)$/m, (_, b: string) => `btime ${Number(b) + shift}`);
}

function uptimeText(k: Kernel): string {
  const up = (Date.now() - k.startTime) / 1000;
  return `${up.toFixed(2)} ${(up * os.cpus().length).toFixed(2)}\n`;
}

function loadavgText(k: Kernel): string {
  const [a, b, c] = os.loadavg();
  let last = 0;
  for (const p of k.procs.values()) last = Math.max(last, p.pid);
  return `${a!.toFixed(2)} ${b!.toFixed(2)} ${c!.toFixed(2)} 1/${k.tasks.size} ${last}\n`;
}

const SYS_FILES: Record<string, (k: Kernel) => string> = {
  'kernel/hostname': (k) => `${k.hostname}\n`,
  'kernel/domainname': (k) => `${k.domainname}\n`,
  'kernel/ostype': () => `${KERNEL_IDENTITY.sysname}\n`,
  'kernel/osrelease': () => `${KERNEL_IDENTITY.release}\n`,
  'kernel/version': () => `${KERNEL_IDENTITY.version}\n`,
  'kernel/pid_max': () => '4194304\n',
  'kernel/threads-max': () => '1000000\n',
  'kernel/ngroups_max': () => '65536\n',
  'kernel/cap_last_cap': () => hostRead('/proc/sys/kernel/cap_last_cap'),
  'kernel/randomize_va_space': () => hostRead('/proc/sys/kernel/randomize_va_space'),
  'kernel/random/boot_id': () => hostRead('/proc/sys/kernel/random/uuid'),
  'kernel/random/uuid': () => hostRead('/proc/sys/kernel/random/uuid'),
  'kernel/shmmax': () => hostRead('/proc/sys/kernel/shmmax'),
  'kernel/shmall': () => hostRead('/proc/sys/kernel/shmall'),
  'kernel/shmmni': () => hostRead('/proc/sys/kernel/shmmni'),
  'kernel/sem': () => hostRead('/proc/sys/kernel/sem'),
  'kernel/msgmni': () => hostRead('/proc/sys/kernel/msgmni'),
  'kernel/msgmax': () => hostRead('/proc/sys/kernel/msgmax'),
  'kernel/msgmnb': () => hostRead('/proc/sys/kernel/msgmnb'),
  'kernel/overflowuid': () => '65534\n',
  'kernel/overflowgid': () => '65534\n',
  'vm/overcommit_memory': () => '0\n',
  'vm/max_map_count': () => hostRead('/proc/sys/vm/max_map_count'),
  'vm/mmap_min_addr': () => '65536\n',
  'fs/file-max': () => '9223372036854775807\n',
  'fs/nr_open': () => '1048576\n',
  'fs/pipe-max-size': () => '1048576\n',
  // The sandbox's inotify limits; the queue is the host's own.
  'fs/inotify/max_queued_events': () => hostRead('/proc/sys/fs/inotify/max_queued_events'),
  'fs/inotify/max_user_instances': () => `${INSTANCES_MAX}\n`,
  'fs/inotify/max_user_watches': () => `${WATCHES_MAX}\n`,
};

// ---- tree ------------------------------------------------------------

function dirEntries(names: [string, number][], pfs: ProcFs, base: string): DirEntry[] {
  return names.map(([name, type]) => ({ name, type, ino: pfs.ino(`${base}/${name}`) }));
}

const ROOT_FILES: Record<string, (k: Kernel) => string | Buffer> = {
  cpuinfo: () => hostRead('/proc/cpuinfo'),
  meminfo: () => hostRead('/proc/meminfo'),
  stat: (k) => procStatText(k),
  uptime: (k) => uptimeText(k),
  loadavg: (k) => loadavgText(k),
  version: () => `Linux version ${KERNEL_IDENTITY.release} (tsvisor) ${KERNEL_IDENTITY.version}\n`,
  cmdline: () => 'BOOT_IMAGE=/tsvisor ro\n',
  filesystems: () => ['nodev\tsysfs', 'nodev\ttmpfs', 'nodev\tproc', 'nodev\tdevpts', 'nodev\tmqueue', 'nodev\toverlay', '\text4', ''].join('\n'),
  swaps: () => 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n',
  devices: () => 'Character devices:\n  1 mem\n  4 /dev/vc/0\n  4 tty\n  5 /dev/tty\n  5 /dev/console\n  5 /dev/ptmx\n136 pts\n\nBlock devices:\n',
};

function rootEntries(pfs: ProcFs): DirEntry[] {
  const names: [string, number][] = [['self', DT_LNK], ['thread-self', DT_LNK], ['mounts', DT_LNK], ['net', DT_LNK], ['sys', DT_DIR]];
  for (const f of Object.keys(ROOT_FILES)) names.push([f, DT_REG]);
  const pids = [...[...pfs.k.procs.values()].filter((p) => !p.exited), ...pfs.k.liveZombies()].map((p) => p.pid).sort((a, b) => a - b);
  return [...dirEntries(names, pfs, ''), ...pids.map((pid) => ({ name: String(pid), type: DT_DIR, ino: pfs.ino(`/${pid}`) }))];
}

function rootLookup(pfs: ProcFs, name: string): Node | null {
  const k = pfs.k;
  if (name === 'self') return new ProcLink(pfs, '/self', () => String(currentProc(pfs).pid));
  if (name === 'thread-self') return new ProcLink(pfs, '/thread-self', () => `${currentProc(pfs).pid}/task/${k.current?.nsTid ?? 0}`);
  if (name === 'mounts') return new ProcLink(pfs, '/mounts', () => 'self/mounts');
  if (name === 'net') return new ProcLink(pfs, '/net', () => 'self/net');
  if (name === 'sys') return sysDir(pfs, '');
  const gen = ROOT_FILES[name];
  if (gen) return new ProcFile(pfs, `/${name}`, () => gen(k), 0o444, null, 'seq', `/proc/${name}`);
  if (/^\d+$/.test(name)) {
    const p = findProc(k, Number(name));
    if (p) return pidDir(pfs, p, leaderOf(p), `/${name}`);
    // A thread's id is a /proc entry too (not listed), showing that thread.
    const t = findThread(k, Number(name));
    return t ? pidDir(pfs, t.proc, t, `/${name}`) : null;
  }
  return null;
}

function findThread(k: Kernel, tid: number): Task | undefined {
  for (const t of k.tasks.values()) if (t.nsTid === tid && !t.proc.exited) return t;
  return undefined;
}

/** /proc/sys files: the Sentry's own, and those the container's spec set (as the values it set, tab-separated as Linux prints them). */
function sysFiles(k: Kernel): Record<string, (k: Kernel) => string> {
  const set = Object.entries(k.spec.sysctl ?? {});
  if (set.length === 0) return SYS_FILES;
  const files = { ...SYS_FILES };
  for (const [key, value] of set) files[key.replace(/\./g, '/')] = () => `${value.trim().split(/\s+/).join('\t')}\n`;
  return files;
}

function sysDir(pfs: ProcFs, sub: string): Node {
  const prefix = sub ? `${sub}/` : '';
  const isNet = sub === 'net' || sub.startsWith('net/');
  const children = new Map<string, boolean>();
  const files = sysFiles(pfs.k);
  for (const key of Object.keys(files)) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf('/');
    children.set(slash < 0 ? rest : rest.slice(0, slash), slash >= 0);
  }
  if (sub === '') children.set('net', true);
  // /proc/sys/net is the guest's network namespace's (values the spec set win).
  const entries = () => {
    const all = new Map(children);
    if (isNet) for (const e of netSysList(pfs, sub)) if (!all.has(e.name)) all.set(e.name, e.isDirectory());
    return [...all];
  };
  return new ProcDir(
    pfs,
    `/sys/${sub}`,
    0o555,
    () => dirEntries(entries().map(([n, isDir]) => [n, isDir ? DT_DIR : DT_REG]), pfs, `/sys/${sub}`),
    (name) => {
      const key = prefix + name;
      if (!children.has(name)) return isNet ? netSysLookup(pfs, key) : null;
      if (children.get(name)) return sysDir(pfs, key);
      if ((key === 'kernel/hostname' || key === 'kernel/domainname') && !pfs.k.spec.utsnsPath) return new UtsNameFile(pfs, key);
      return new ProcFile(pfs, `/sys/${key}`, () => files[key]!(pfs.k), 0o444, null, 0);
    },
    null,
    // Linux's /proc/sys directories count one link.
    (st) => (st.nlink = 1),
  );
}

/**
 * /proc/sys/kernel/hostname or domainname: read-only opens get the file of
 * the sandbox's own UTS namespace on the host, which the Sentry keeps at the
 * sandbox's names (syscalls/uts.ts), so reads show them and epoll reports
 * their changes (EPOLLERR) as Linux does.
 */
class UtsNameFile extends ProcFile {
  constructor(
    fs: ProcFs,
    private readonly key: string,
  ) {
    super(fs, `/sys/${key}`, () => SYS_FILES[key]!(fs.k), 0o444, null, 'host');
  }
  override open(flags: number): Opened {
    refuseDirect(flags);
    const t = this.fs.k.current;
    const ns = t && (flags & O_ACCMODE) === O_RDONLY ? ownUtsns(this.fs.k, t.tid) : null;
    if (ns === null) return super.open(flags);
    try {
      return { fd: check(native.openInUtsns(ns, `/proc/sys/${this.key}`, flags & O_REOPEN_FLAGS & ~O_CLOEXEC)) };
    } finally {
      fs.closeSync(ns);
    }
  }
}

/**
 * Opens /proc/sys/KEY as the calling guest's network namespace has it. The
 * guest's user namespace owns no network namespace, so, as for an
 * unprivileged process in Linux, these files are read-only (EACCES).
 */
function netSysOpen(pfs: ProcFs, key: string, flags: number): number {
  const t = pfs.k.current;
  if (!t || key.split('/').some((c) => c === '' || c === '.' || c === '..')) fail('ENOENT');
  let ns: number;
  try {
    ns = fs.openSync(`/proc/${t.tid}/ns/net`, 'r');
  } catch {
    fail('ESRCH');
  }
  try {
    return check(native.openInNetns(ns, `/proc/sys/${key}`, flags));
  } finally {
    fs.closeSync(ns);
  }
}

function netSysList(pfs: ProcFs, key: string): fs.Dirent[] {
  const fd = netSysOpen(pfs, key, O_RDONLY | O_DIRECTORY);
  try {
    // The fd's magic link leads to the namespace's own directory, not to a path.
    return fs.readdirSync(`/proc/self/fd/${fd}`, { withFileTypes: true });
  } finally {
    native.close(fd);
  }
}

function netSysLookup(pfs: ProcFs, key: string): Node | null {
  let fd: number;
  try {
    fd = netSysOpen(pfs, key, O_RDONLY | O_PATH);
  } catch {
    return null;
  }
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } finally {
    native.close(fd);
  }
  if (st.isDirectory()) return sysDir(pfs, key);
  // Linux gives anyone but the namespace's root the table's "other" bits
  // (tcp_fastopen_key is 0600): the Sentry, host root, reads only those.
  return new ProcFile(pfs, `/sys/${key}`, () => {
    if (!(st.mode & 0o004)) fail('EACCES');
    const f = netSysOpen(pfs, key, O_RDONLY);
    try {
      return fs.readFileSync(f, 'latin1');
    } finally {
      native.close(f);
    }
  }, st.mode & 0o444, null, 0);
}

/** An fd link's permissions as Linux gives them: r-x for a readable fd, -wx for a writable one, none for O_PATH. */
function fdLinkPermissions(hostFd: number): number {
  const flags = native.fcntlGetfl(hostFd);
  if (flags < 0 || flags & O_PATH) return 0;
  const acc = flags & O_ACCMODE;
  return (acc === O_RDONLY || acc === O_RDWR ? 0o500 : 0) | (acc === O_WRONLY || acc === O_RDWR ? 0o300 : 0);
}

/** The name a guest fd shows in /proc/[pid]/fd, where it leads, and its link's permissions. */
function fdTarget(pfs: ProcFs, p: Process, fd: number): { text: string; loc: Location | null; permissions: number } {
  const k = pfs.k;
  const t = leaderOf(p);
  if (!t) fail('ENOENT');
  let id;
  try {
    id = k.files.identify(t, fd);
  } catch {
    fail('ENOENT');
  }
  const permissions = fdLinkPermissions(id.fd);
  // The host's name of the object identified, read through the Sentry's copy:
  // the guest's slot may hold another fd by now (one of the Sentry's own,
  // whose host name is its storage's).
  let hostText: string | null = null;
  try {
    if (!id.file) hostText = fs.readlinkSync(`/proc/self/fd/${id.fd}`, { encoding: 'latin1' });
  } catch {
    /* failed below */
  } finally {
    native.close(id.fd);
  }
  // A pseudo-terminal is named by its number, as ttyname() expects, whichever
  // path opened it (the Sentry's /dev/tty and the console share its inode).
  const pts = (id.sx[STATX.mode]! & S_IFMT) === S_IFCHR ? ptsNumber(id.sx[STATX.rdevMajor]!, id.sx[STATX.rdevMinor]!) : -1;
  if (id.file) {
    if (id.file.anon) return { text: id.file.anon, loc: id.file.loc, permissions };
    return { text: pts >= 0 ? `/dev/pts/${pts}` : linkText(t.fs.root, id.file.loc) ?? '/', loc: id.file.loc, permissions };
  }
  const text = pts >= 0 ? `/dev/pts/${pts}` : hostText === null ? fail('ENOENT') : foreignFdName(k, hostText, id.sx);
  const owners = hostObjectOwners(k, id.sx);
  const st: Stat = {
    dev: makedev(id.sx[19]!, id.sx[20]!), ino: id.sx[6]!, mode: id.sx[5]!, nlink: id.sx[2]!, uid: owners[0], gid: owners[1],
    rdev: makedev(id.sx[17]!, id.sx[18]!), size: id.sx[7]!, blksize: id.sx[1]!, blocks: id.sx[8]!,
    atimeSec: id.sx[9]!, atimeNsec: id.sx[10]!, mtimeSec: id.sx[15]!, mtimeNsec: id.sx[16]!, ctimeSec: id.sx[13]!, ctimeNsec: id.sx[14]!, btimeSec: 0, btimeNsec: 0,
  };
  return { text, loc: pfs.at(new HostFdNode(pfs, p, fd, st), String(fd)), permissions };
}

function fdDir(pfs: ProcFs, p: Process, base: string): Node {
  return new ProcDir(
    pfs,
    base,
    0o500,
    () => {
      let names: string[] = [];
      try {
        names = fs.readdirSync(`/proc/${p.tgid}/fd`);
      } catch {
        /* gone */
      }
      return names.map(Number).sort((a, b) => a - b).map((n) => ({ name: String(n), type: DT_LNK, ino: pfs.ino(`${base}/${n}`) }));
    },
    (name) => {
      if (!/^\d+$/.test(name)) return null;
      const fd = Number(name);
      // The Sentry takes the fd (as root) only for a caller that may trace the process.
      const target = withTraceAccess(pfs.k, p, () => fdTarget(pfs, p, fd));
      return new ProcLink(pfs, `${base}/${name}`, () => target.text, () => target.loc, p, true, target.permissions);
    },
    p,
    // Linux shows the number of open fds as the directory's size.
    (st) => {
      try {
        st.size = fs.statSync(`/proc/${p.tgid}/fd`).size;
      } catch {
        /* gone */
      }
    },
  );
}

function pidDir(pfs: ProcFs, p: Process, t: Task | undefined, base: string, thread = false): Node {
  const k = pfs.k;
  const hostTid = t?.tid ?? p.tgid;
  const comm = () => commOf(p, hostTid);
  const files: Record<string, Content> = {
    // A zombie has no memory left: no command line, no mappings.
    cmdline: () => (p.exited ? '' : p.cmdline ?? hostRead(`/proc/${p.tgid}/cmdline`)),
    // As Linux, only for a caller allowed to trace the process (ptrace's read check).
    environ: () => withTraceAccess(k, p, () => hostRead(`/proc/${p.tgid}/environ`), undefined, true),
    auxv: () => withTraceAccess(k, p, () => auxvOf(p), undefined, true),
    comm: () => `${comm()}\n`,
    stat: () => statLine(k, hostTid, p, comm()),
    statm: () => hostRead(`/proc/${p.tgid}/statm`),
    status: () => statusText(k, hostTid, p, comm()),
    maps: () => withTraceAccess(k, p, () => (p.exited ? '' : mapsText(k, p)), undefined, true),
    uid_map: () => idMapText(k, 'uid'),
    gid_map: () => idMapText(k, 'gid'),
    smaps: () => withTraceAccess(k, p, () => mapsText(k, p, 'smaps'), undefined, true),
    smaps_rollup: () => withTraceAccess(k, p, () => mapsText(k, p, 'smaps_rollup'), undefined, true),
    limits: () => hostRead(`/proc/${p.tgid}/limits`),
    mounts: () => mountLines(k, t?.fs.root ?? k.mounts.root, false),
    mountinfo: () => mountLines(k, t?.fs.root ?? k.mounts.root, true),
    cgroup: () => k.spec.cgroupLines ?? '0::/\n',
    oom_score: () => p.oom.score(p.tgid, hostRead(`/proc/${p.tgid}/oom_score`)),
    loginuid: () => '4294967295\n',
    sessionid: () => '4294967295\n',
    wchan: () => '0',
    // The thread's own counts in task/<tid>, the thread group's elsewhere.
    io: () => hostRead(thread ? `/proc/${p.tgid}/task/${hostTid}/io` : `/proc/${p.tgid}/io`),
  };
  // A thread's children (those it forked), sandbox pids each followed by a space.
  if (thread) files.children = () => childrenText(k, p, hostTid);
  const writable = new Set(['loginuid']);
  // Files Linux serves without seq_file: lseek counts from an empty size.
  const unsized = new Set(['cmdline', 'environ', 'auxv', 'loginuid', 'sessionid']);
  const links: Record<string, { text: () => string; loc: () => Location | null }> = {
    exe: { text: () => (p.exited ? '' : (p.exe && linkText(t?.fs.root ?? k.mounts.root, p.exe)) || p.exePath) || fail('ENOENT'), loc: () => (p.exited ? fail('ENOENT') : p.exe) },
    cwd: { text: () => (t ? linkText(t.fs.root, t.fs.cwd) ?? '/' : fail('ENOENT')), loc: () => t?.fs.cwd ?? null },
    root: { text: () => (t ? pathOf(k.mounts.root, t.fs.root) ?? '/' : fail('ENOENT')), loc: () => t?.fs.root ?? null },
  };
  const names: [string, number][] = [
    ...Object.keys(files).map((n): [string, number] => [n, DT_REG]),
    ['oom_score_adj', DT_REG],
    ['coredump_filter', DT_REG],
    ['mem', DT_REG],
    ['ns', DT_DIR],
    ['net', DT_DIR],
    ...Object.keys(links).map((n): [string, number] => [n, DT_LNK]),
    ['fd', DT_DIR],
    ['fdinfo', DT_DIR],
    ...(thread ? [] : [['task', DT_DIR] as [string, number]]),
  ];
  return new ProcDir(
    pfs,
    base,
    0o555,
    () => dirEntries(names, pfs, base),
    (name) => {
      // A directory held open past its process's end (reaped, not a zombie) has nothing left.
      if (p.exited && !p.isZombie()) fail('ESRCH');
      // The host applies a write as Linux does: the writer's own thread group only (EINVAL otherwise), truncated to 15 bytes.
      if (name === 'comm') return new HostWritableProcFile(pfs, `${base}/comm`, `${hostTaskDir(p, hostTid)}/comm`, p, files.comm!, 'seq');
      const read = files[name];
      const f = read && ((): string | Buffer => ofProcess(p, read));
      if (f) {
        const file = new ProcFile(pfs, `${base}/${name}`, f, writable.has(name) ? 0o644 : 0o444, p, unsized.has(name) ? 0 : 'seq', WRITELESS.has(name) ? `${hostTaskDir(p, hostTid)}/${name}` : null);
        file.ofMemory = OF_MEMORY.has(name);
        return file;
      }
      if (name === 'oom_score_adj') return new OomScoreAdjFile(pfs, `${base}/${name}`, p);
      if (name === 'coredump_filter') return new HostWritableProcFile(pfs, `${base}/${name}`, `/proc/${p.tgid}/${name}`, p);
      if (name === 'mem') return new ProcMemFile(pfs, `${base}/mem`, p, hostTid);
      if (name === 'ns') return nsDir(pfs, p, `${base}/ns`);
      if (name === 'net') return netDir(pfs, p, `${base}/net`);
      const l = links[name];
      if (l) return new ProcLink(pfs, `${base}/${name}`, l.text, l.loc, p, true);
      if (name === 'fd') return fdDir(pfs, p, `${base}/fd`);
      if (name === 'fdinfo') return fdinfoDir(pfs, p, `${base}/fdinfo`);
      if (name === 'task' && !thread) return taskDir(pfs, p, `${base}/task`);
      return null;
    },
    p,
  );
}

/**
 * The process's auxiliary vector: the kernel's copy, with AT_EXECFN where the
 * Sentry moved it at exec and AT_BASE where it set it (fixStartBlock).
 */
function auxvOf(p: Process): Buffer {
  const v = fs.readFileSync(`/proc/${p.tgid}/auxv`);
  const patch = new Map<bigint, bigint | undefined>([
    [BigInt(AT_EXECFN), p.execFnAddr],
    [BigInt(AT_BASE), p.baseAddr],
  ]);
  for (let off = 0; off + 16 <= v.length; off += 16) {
    const value = patch.get(v.readBigUInt64LE(off));
    if (value !== undefined) v.writeBigUInt64LE(value, off + 8);
  }
  return v;
}

/**
 * Per-process files that show the process's memory, which a zombie has no
 * more: Linux reads them as empty (maps and smaps, seq_files, still give
 * what a read before buffered, which the snapshot does not keep apart).
 */
const OF_MEMORY = new Set(['cmdline', 'environ', 'maps', 'smaps']);

/** Per-process files Linux gives no write at all (uid_map, comm and the like have one): their host twins fail writes (ProcFile.open). */
const WRITELESS = new Set(['cmdline', 'environ', 'auxv', 'stat', 'statm', 'status', 'maps', 'smaps', 'smaps_rollup', 'limits', 'mounts', 'mountinfo', 'cgroup', 'oom_score', 'wchan', 'io']);

/**
 * The check Linux makes before it shows a process's memory, environment or
 * auxiliary vector: the caller's own process, or CAP_SYS_PTRACE, or the same
 * ids and a dumpable target (mayTrace); EACCES otherwise. For `mmRead`, a
 * file read from the target's memory map (environ, auxv, maps), only the
 * host's owner tells dumpability: Linux 6.18 (measured) lets a root caller
 * without CAP_SYS_PTRACE read those of a root process that is not dumpable,
 * but not its mem, exe or fds; a caller of another uid the files' owner,
 * root, keeps out.
 */
function requireTraceAccess(k: Kernel, target: Process, mmRead: boolean): void {
  const caller = k.current;
  if (!caller) fail('EACCES');
  if (caller.proc === target) return;
  const c = caller.creds;
  if (!hasCap(c, CAP_SYS_PTRACE) && !mayTrace(target.tgid, mmRead || target.dumpable, c.fsuid, c.fsgid, c.capEff)) fail('EACCES');
}

/**
 * `read` (of the target's host file, made as root) under requireTraceAccess.
 * The target runs meanwhile, and an exec of a set-id file it made before may
 * complete in between: the check is made again after the read, whose result
 * is dropped (`release`) if it fails then. (The target cannot start another
 * exec: that stops in the Sentry, which is busy here.)
 */
function withTraceAccess<T>(k: Kernel, target: Process, read: () => T, release: (v: T) => void = () => {}, mmRead = false): T {
  requireTraceAccess(k, target, mmRead);
  return ofProcess(target, read, (v) => {
    try {
      requireTraceAccess(k, target, mmRead);
    } catch (e) {
      release(v);
      throw e;
    }
  }, release);
}

/**
 * `read` of `/proc/${p.tgid}/...` (or the process's fd by number), made by
 * number: ESRCH, its result dropped (`release`), if `p` was reaped by the
 * end, since the host may have given its pid to another process, maybe
 * outside the sandbox (a guest holding a /proc/PID file of a child it then
 * reaped, waiting for the pids to wrap). Still there at the end, it held
 * the pid throughout. `after` runs other checks before that one.
 */
function ofProcess<T>(p: Process, read: () => T, after: (v: T) => void = () => {}, release: (v: T) => void = () => {}): T {
  const v = read();
  after(v);
  if (p.reaped()) {
    release(v);
    fail('ESRCH');
  }
  return v;
}

/**
 * /proc/[pid]/mem: the host's file of the same process, opened by the Sentry
 * once the caller passes Linux's check (its own process, or the same
 * effective uid, or CAP_SYS_PTRACE), so reads and writes run natively on
 * that process's memory and nothing else's.
 */
class ProcMemFile extends ProcNode {
  constructor(
    fs: ProcFs,
    path: string,
    owner: Process,
    private readonly hostTid: number,
  ) {
    super(fs, path, S_IFREG | 0o600, owner);
  }
  override open(flags: number): Opened {
    refuseDirect(flags);
    const open = (): number => {
      try {
        return fs.openSync(`${hostTaskDir(this.owner!, this.hostTid)}/mem`, flags & O_REOPEN_FLAGS);
      } catch {
        fail('ESRCH');
      }
    };
    return { fd: withTraceAccess(this.fs.k, this.owner!, open, (fd) => native.close(fd)), foreign: true };
  }
}

/**
 * A process's uid_map or gid_map: under the spec's mappings, those (what
 * runc's container reads); otherwise the sandbox is the initial user
 * namespace of the kernel it shows, where every id is itself.
 */
function idMapText(k: Kernel, kind: 'uid' | 'gid'): string {
  return mapLines(k.guestIds === TSVISOR_IDS ? [{ containerID: 0, hostID: 0, size: 4294967295 }] : k.guestIds[kind]);
}

const NAMESPACES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'pid_for_children', 'time', 'time_for_children', 'user', 'uts'];

/** /proc/[pid]/ns: what each namespace link reads as (type:[inode]); joining one is refused anyway (setns). */
function nsDir(pfs: ProcFs, p: Process, base: string): Node {
  return new ProcDir(
    pfs,
    base,
    0o511,
    () => dirEntries(NAMESPACES.map((n) => [n, DT_LNK]), pfs, base),
    (name) => {
      if (!NAMESPACES.includes(name)) return null;
      const host = `/proc/${p.tgid}/ns/${name}`;
      return new ProcLink(pfs, `${base}/${name}`, () => {
        try {
          return fs.readlinkSync(host, { encoding: 'latin1' });
        } catch {
          fail('ENOENT');
        }
      }, () => pfs.at(new NsNode(pfs, host), name), p, true);
    },
    p,
  );
}

/**
 * What a /proc/[pid]/ns link leads to: the namespace's inode as stat shows it
 * (access and stat work as on Linux). Opening one is refused: a namespace fd
 * is only good for setns and namespace ioctls, which the sandbox refuses, and
 * with a shared network namespace it would name one of the host's.
 */
class NsNode extends Node {
  constructor(
    readonly fs: ProcFs,
    private readonly hostPath: string,
  ) {
    super();
  }
  get mode(): number {
    return this.stat().mode;
  }
  stat(): Stat {
    let s: fs.BigIntStats;
    try {
      s = fs.statSync(this.hostPath, { bigint: true });
    } catch {
      fail('ENOENT');
    }
    const n = (v: bigint) => Number(v);
    return {
      dev: n(s.dev), ino: n(s.ino), mode: n(s.mode), nlink: n(s.nlink), uid: ownerInSandbox('uid', n(s.uid)), gid: ownerInSandbox('gid', n(s.gid)), rdev: 0, size: 0, blksize: n(s.blksize), blocks: 0,
      atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0, btimeSec: 0, btimeNsec: 0,
    };
  }
  override open(): Opened {
    fail('EACCES');
  }
}

/** The /proc/net files programs read; each shows the sandbox's network namespace (that of the process). */
const NET_FILES = ['dev', 'if_inet6', 'route', 'ipv6_route', 'tcp', 'tcp6', 'udp', 'udp6', 'raw', 'raw6', 'unix', 'netlink', 'snmp', 'snmp6', 'netstat', 'sockstat', 'sockstat6', 'arp', 'igmp', 'packet', 'protocols'];

/** The /proc/net tables with a socket owner's uid (the eighth field of each row). */
const SOCKET_TABLES = new Set(['tcp', 'tcp6', 'udp', 'udp6', 'raw', 'raw6']);

/** A socket table with each owner as the sandbox sees it (the Sentry reads host uids; an unmapped one is the overflow id), in Linux's "%5u" field. */
function socketOwners(table: string): string {
  return table.replace(/^([ \t]*\S+(?:[ \t]+\S+){6}) +(\d+)/gm, (_m, head: string, uid: string) => `${head} ${String(toSandboxId('uid', Number(uid))).padStart(5)}`);
}

function netDir(pfs: ProcFs, p: Process, base: string): Node {
  return new ProcDir(
    pfs,
    base,
    0o555,
    () => dirEntries(NET_FILES.map((n) => [n, DT_REG]), pfs, base),
    (name) => {
      if (!NET_FILES.includes(name)) return null;
      const text = () => hostRead(`/proc/${p.tgid}/net/${name}`);
      return new ProcFile(pfs, `${base}/${name}`, SOCKET_TABLES.has(name) ? () => socketOwners(text()) : text, 0o444, p);
    },
    p,
  );
}

function fdinfoDir(pfs: ProcFs, p: Process, base: string): Node {
  return new ProcDir(
    pfs,
    base,
    0o555,
    () => {
      let names: string[] = [];
      try {
        names = fs.readdirSync(`/proc/${p.tgid}/fdinfo`);
      } catch {
        /* gone */
      }
      return names.map((n) => ({ name: n, type: DT_REG, ino: pfs.ino(`${base}/${n}`) }));
    },
    (name) => (/^\d+$/.test(name) ? new ProcFile(pfs, `${base}/${name}`, () => ofProcess(p, () => hostRead(`/proc/${p.tgid}/fdinfo/${name}`)), 0o444, p) : null),
    p,
  );
}

function taskDir(pfs: ProcFs, p: Process, base: string): Node {
  return new ProcDir(
    pfs,
    base,
    0o555,
    () => {
      if (p.exited && !p.isZombie()) fail('ENOENT');
      return [...p.threads.values()].map((t) => ({ name: String(t.nsTid), type: DT_DIR, ino: pfs.ino(`${base}/${t.nsTid}`) }));
    },
    (name) => {
      for (const t of p.threads.values()) if (String(t.nsTid) === name) return pidDir(pfs, p, t, `${base}/${name}`, true);
      return null;
    },
    p,
    (st) => (st.nlink += p.threads.size),
  );
}

/**
 * A thread's name: the one the Sentry gave at exec, unless the thread renamed
 * itself since (prctl PR_SET_NAME, pthread_setname_np: busybox names its
 * forked applets so), which shows as a host name other than the exec's.
 */
export function commOf(p: Process, hostTid: number): string {
  const host = hostComm(hostTid);
  // Exec'd by the kernel, its stop not yet handled: the host's name is the
  // rewritten execveat's (exec.ts): the fd's number, or on newer kernels the
  // name of the file it holds (the memfs's store names files by inode).
  const pe = p.threads.get(hostTid)?.pendingExec;
  if (pe && host && host !== p.hostComm) return pe.comm;
  return !host || host === p.hostComm || !p.comm ? p.comm || 'init' : host;
}

/**
 * A thread's state letter as the guest sees it: the host shows the Sentry's
 * ptrace stops as 't' (tracing stop), which no guest is in (a guest cannot
 * trace): a group-stop (SIGSTOP) is Linux's 'T', any other stop is the
 * thread inside a call the Sentry runs, 'R'.
 */
function guestState(k: Kernel, hostTid: number, host: string): string {
  if (k.current?.tid === hostTid) return 'R';
  if (host !== 't') return host;
  return k.tasks.get(hostTid)?.groupStopped ? 'T' : 'R';
}

const STATE_NAMES: Readonly<Record<string, string>> = { R: 'R (running)', T: 'T (stopped)' };
