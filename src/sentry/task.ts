// The Sentry's view of guest processes and threads. Tasks are keyed by host
// tid (what seccomp notifications and ptrace report); each also has its
// sandbox pid (what the guest sees, from /proc/<tid>/status NSpid).
import fs from 'node:fs';
import { native } from '../platform/native.js';
import { ERRNO } from '../abi/errno.js';
import { type Creds, type DumpCreds, readCreds } from './creds.js';
import { fail, ownFd } from './errors.js';
import type { Injection } from './inject.js';
import type { KeptNice } from './syscalls/priority.js';
import { OomScoreAdj } from './oom.js';
import type { FileAccess } from './spec.js';
import type { Location } from './vfs/node.js';
import type { ResolveContext } from './vfs/resolve.js';

/** cwd, root and umask: shared by threads (CLONE_FS), copied at fork. */
export class FsContext {
  constructor(
    public root: Location,
    public cwd: Location,
    public umask: number,
  ) {}

  copy(): FsContext {
    return new FsContext(this.root, this.cwd, this.umask);
  }
}

/**
 * A file descriptor table (Linux's files_struct): shared by the tasks cloned
 * with CLONE_FILES, a new one at any other clone and for the process an exec
 * leaves (the kernel unshares it there). The guest cannot unshare one
 * otherwise (unshare is refused).
 */
export class FdTable {
  /** the slots given to pending execs of its tasks (exec.ts freeFd): one slot, one exec */
  readonly execSlots = new Set<number>();
  /** the tasks using it */
  readonly tasks = new Set<Task>();
  /**
   * fds installed for execs that are done, which the table's other tasks
   * still hold (the kernel gave the exec'ing process a copy): each slot with
   * the Sentry's copy of the file installed there (exec.ts closeStale)
   */
  stale: { slot: number; fd: number }[] = [];
  /** the task interrupted to close them */
  cleaner: Task | undefined;

  /** Forgets the stale fds, closing the Sentry's copies. */
  dropStale(): void {
    for (const s of this.stale) native.close(s.fd);
    this.stale = [];
  }
}

/** What execve was rewritten into, waiting for its second (notify) stop and the exec event. */
export interface PendingExec {
  /** host fd of the file to execute, the Sentry's until the exec is done or failed (the installed fd is this open file) */
  hostFd: number;
  /** fd number chosen in the guest, reserved in `table` */
  guestFd: number;
  /** the fd table the slot is reserved in, and the fd installed in */
  table: FdTable;
  /** the file's host object (files.ts hostKey): the exec event checks the kernel ran it (exec.ts ranInstalled) */
  object: string;
  /** the ELF interpreter's host object (hostKey) when the kernel loads it itself, null when it must load none (ranInstalled) */
  nativeInterp: string | null;
  /** the guestFd slot holds the Sentry's fd: withdrawn if the exec fails */
  installed: boolean;
  /** the thread's registers at the original call, given back if the exec fails */
  regs: BigUint64Array;
  /** sandbox path of the executable, for /proc/[pid]/exe */
  exe: Location;
  exePath: string;
  comm: string;
  /** AT_EXECFN as Linux would give it */
  execFn: string;
  /** for an access observer: the call's FileAccess, reported once the kernel ran the image (errno 0) or refused it */
  access?: FileAccess;
  /** the program's interpreter is executed by fd, with the program handed to it (exec.ts, "ELF interpreters") */
  loader?: PendingLoader;
  /** the task's credentials before the exec, and whether it may read the program and its interpreter: what makes the new image dumpable (kernel.ts onExec) */
  before: DumpCreds | null;
  readable: boolean;
}

/** An exec that runs the program's ELF interpreter by fd, the program handed to it by name. */
export interface PendingLoader {
  /** the interpreter's path as the program names it (its argv[0]) */
  interp: string;
  /** the interpreter's entry point (e_entry): AT_ENTRY less this is its load address, AT_BASE */
  entry: number;
  /** the interpreter takes --argv0 (else the program's argv[0] is its name) */
  argv0: boolean;
  /** the name the interpreter is given for the program: its resolved path, as /proc/self/exe shows it */
  program: string;
}

/** A thread group. */
export class Process {
  readonly threads = new Map<number, Task>();
  private pidfdCache = -1;
  exe: Location | null = null;
  exePath = '';
  /** the name Linux gives the process at exec (/proc/[pid]/comm) */
  comm = '';
  /** the name the host kernel gave it at that exec (for execveat of an fd: its number, or its file's name since Linux 6.14) */
  hostComm = '';
  /** /proc/[pid]/cmdline when it must not be the host's (tsvisor's init, whose argv is the launcher's) */
  cmdline: string | undefined;
  /** AT_EXECFN's value where the Sentry moved it at the last exec (fixExecFn); the kernel's copy of the vector keeps the old one */
  execFnAddr: bigint | undefined;
  /** AT_BASE where the Sentry set it at an exec that ran the interpreter by fd (the kernel's copy says 0) */
  baseAddr: bigint | undefined;
  /** after an exec that ran the interpreter by fd: where glibc's loader will point AT_EXECFN (`from`), where it belongs (`to`), the start-up block's bounds, calls left (fixLoaderExecFn) */
  execFnFix: { from: bigint; to: bigint; lo: number; hi: number; calls: number } | undefined;
  /** after an exec that ran the interpreter by fd: the program's name and file, for the process's first open (file.ts) */
  loaderOpen: { path: string; loc: Location } | undefined;
  /**
   * Whether ptrace's checks (the Sentry's /proc access) find it dumpable:
   * Linux's mm dumpable flag as the process's execs, credential changes and
   * PR_SET_DUMPABLE set it (kernel.ts), inherited at fork
   */
  dumpable = true;
  exited = false;
  readonly startTime = Date.now();
  /** the leader's kept nice value once the process exited, for its zombie (syscalls/priority.ts) */
  keptNice: KeptNice | undefined;
  /** /proc/[pid]/oom_score_adj (inherited at fork) */
  oom = new OomScoreAdj();
  /** the most resident memory (VmHWM, bytes) of its current program seen at its threads' exits (with an access observer only) */
  peakRss: number | null = null;

  constructor(
    /** host tgid */
    public tgid: number,
    /** sandbox pid */
    public pid: number,
    public parent: Process | null,
  ) {
    // Taken while the process is surely the one at `tgid` (the Sentry meets
    // it stopped, before it runs): once it is reaped the host gives the
    // number to another process, maybe outside the sandbox, and a pidfd or
    // /proc/[tgid] opened by number then would be that one's.
    this.pidfdCache = native.pidfdOpen(tgid, 0);
  }

  /** A pidfd for pidfd_getfd, of this process even after its pid went to another (ESRCH once it exited and was dropped). */
  pidfd(): number {
    if (this.pidfdCache < 0 && this.exited) fail('ESRCH');
    if (this.pidfdCache < 0) this.pidfdCache = ownFd(native.pidfdOpen(this.tgid, 0));
    return this.pidfdCache;
  }

  /**
   * Whether the process is gone from the host (its parent reaped it), so
   * its pid may be another process's: checked after a read or open of
   * /proc/[tgid] by number, which reached this process if it is still there.
   */
  reaped(): boolean {
    if (this.pidfdCache < 0) return this.exited;
    // Only ESRCH says gone: a process with other host ids (a set-id exec, rootless) refuses the signal with EPERM.
    return native.pidfdSendSignal(this.pidfdCache, 0) === -ERRNO.ESRCH;
  }

  /**
   * Whether the process is a zombie its parent has yet to reap. The Sentry,
   * its tracer, collects its exit first; until the real parent waits, Linux
   * keeps its /proc entry (state Z). The pidfd taken at that exit
   * (keepAsZombie) answers without a pid-reuse race.
   */
  isZombie(): boolean {
    return this.exited && this.pidfdCache >= 0 && native.pidfdSendSignal(this.pidfdCache, 0) === 0;
  }

  /** At the exit the Sentry collected: whether the host still holds the process as a zombie for its parent. */
  keepAsZombie(): boolean {
    if (this.isZombie()) return true;
    this.dropPidfd();
    return false;
  }

  /** After exec by a non-leader thread the group's host tgid stays, but the pidfd must be refreshed. */
  dropPidfd(): void {
    if (this.pidfdCache >= 0) native.close(this.pidfdCache);
    this.pidfdCache = -1;
  }
}

export class Task {
  pendingExec: PendingExec | undefined;
  /** its fd table (CLONE_FILES shares one) */
  files = new FdTable();
  /** a system call the Sentry is running in this thread (inject.ts) */
  injection: Injection | undefined;
  /** the thread was interrupted to take the terminal its open returns (ctty.ts) */
  takesTerminal = false;
  /** in a group-stop (SIGSTOP and the like), held there with PTRACE_LISTEN until SIGCONT */
  groupStopped = false;
  /** registers to give back after a clone3 the Sentry rewrote into clone (clone3.ts) */
  clone3Regs: BigUint64Array | undefined;
  /** a clone3 with CLONE_CLEAR_SIGHAND: set in the caller until its child is recorded, then in the child until it starts */
  clearSighand = false;
  /** a nice value the host does not run the thread at (syscalls/priority.ts) */
  keptNice: KeptNice | undefined;
  /** a real-time I/O priority the host does not give the thread (syscalls/priority.ts) */
  keptIoprio: number | undefined;
  /** the thread reached its exit stop (with an access observer only: PTRACE_O_TRACEEXIT) */
  exiting = false;
  /** its credentials before the credential change it is making, compared at the call's exit stop (kernel.ts) */
  credsBefore: DumpCreds | undefined;
  private credsCache: Creds | undefined;

  constructor(
    /** host tid */
    public tid: number,
    /** sandbox tid */
    public nsTid: number,
    public proc: Process,
    public fs: FsContext,
    creds?: Creds,
  ) {
    this.credsCache = creds;
    proc.threads.set(tid, this);
    this.files.tasks.add(this);
  }

  /** Leaves its fd table (at its exit, or for another): the last task to leave drops the table's stale fds. */
  leaveFiles(): void {
    const old = this.files;
    old.tasks.delete(this);
    if (old.cleaner === this) old.cleaner = undefined;
    if (old.tasks.size === 0) old.dropStale();
  }

  /** Uses `table` from now on. */
  useFiles(table: FdTable): void {
    this.leaveFiles();
    this.files = table;
    table.tasks.add(this);
  }

  /** Credentials; re-read from the host after the task changed them. ESRCH: the task is gone (killed meanwhile). */
  get creds(): Creds {
    if (!this.credsCache) this.credsCache = readCreds(this.tid) ?? undefined;
    if (!this.credsCache) fail('ESRCH');
    return this.credsCache;
  }

  /** The task is about to change its ids or capabilities natively. */
  invalidateCreds(): void {
    this.credsCache = undefined;
  }

  /** Credentials just read from the host while the task is stopped (readCreds). */
  knownCreds(c: Creds): void {
    this.credsCache = c;
  }

  /** Inherit a parent's cached credentials (identical at fork/clone). */
  inheritCreds(from: Task): void {
    this.credsCache = from.credsCache;
  }

  resolveCtx(): ResolveContext {
    return { root: this.fs.root, creds: this.creds };
  }
}

/** The sandbox pid of a host tid: the last NSpid entry in /proc/<tid>/status. */
export function sandboxPid(hostTid: number): number {
  try {
    const s = fs.readFileSync(`/proc/${hostTid}/status`, 'latin1');
    const i = s.indexOf('\nNSpid:');
    if (i < 0) return hostTid;
    const line = s.slice(i + 7, s.indexOf('\n', i + 1)).trim().split(/\s+/);
    return Number(line[line.length - 1]);
  } catch {
    return hostTid;
  }
}

/** The host tgid of a host tid. */
export function hostTgid(hostTid: number): number {
  try {
    const s = fs.readFileSync(`/proc/${hostTid}/status`, 'latin1');
    const i = s.indexOf('\nTgid:');
    return i < 0 ? hostTid : Number(s.slice(i + 6, s.indexOf('\n', i + 1)).trim());
  } catch {
    return hostTid;
  }
}

/** Raises `p.peakRss` to host thread `tid`'s VmHWM (/proc/<tid>/status), if it can be read (not once its memory is gone). */
export function notePeakRss(p: Process, tid: number): void {
  let s: string;
  try {
    s = fs.readFileSync(`/proc/${tid}/status`, 'latin1');
  } catch {
    return;
  }
  const m = /\nVmHWM:\s*(\d+) kB/.exec(s);
  if (m) p.peakRss = Math.max(p.peakRss ?? 0, Number(m[1]) * 1024);
}

/** A host process's argv (/proc/<tid>/cmdline), or null when it cannot be read. */
export function hostArgv(tid: number): string[] | null {
  let s: string;
  try {
    s = fs.readFileSync(`/proc/${tid}/cmdline`, 'utf8');
  } catch {
    return null;
  }
  return s ? s.replace(/\0$/, '').split('\0') : [];
}

/** A host thread's name (/proc/<tid>/comm), or '' when it is gone. */
export function hostComm(hostTid: number): string {
  try {
    return fs.readFileSync(`/proc/${hostTid}/comm`, 'latin1').replace(/\n$/, '');
  } catch {
    return '';
  }
}
