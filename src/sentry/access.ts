// What the guest touches, for an observer (SandboxSpec.access, tsvisor test):
// the Sentry's side of src/sentry/spec.ts's AccessEvents for path calls,
// network calls and denials. Absent (null on the kernel) unless the spec asks
// for it, so the normal path pays one check per call.
//
// A path call's paths are collected where every path call starts its walk
// (syscalls/common.ts startDir), made absolute from the directory the call
// started at, and reported by the dispatcher once the handler has ended, with
// the call's FileOp from syscall-tables (`access`). State is per call: it is
// reset when the next call begins, so nothing here grows with the guest.
import path from 'node:path';
import { ERRNO, errnoName } from '../abi/errno.js';
import type { Logger } from '../log.js';
import type { AccessEvents, Denial, FileAccess, FileOp, NetworkAttempt } from './spec.js';
import type { Task } from './task.js';
import type { Location } from './vfs/node.js';
import { pathOf } from './vfs/resolve.js';

/** At most this many paths are kept per call (rename and link name two; a call names no more). */
const PATHS_MAX = 4;

/** What a path call's errno says of the limit it met. */
const LIMITS: ReadonlyMap<number, string> = new Map([
  [ERRNO.ENOSPC, 'the overlay or a tmpfs is full (size or nodes)'],
  [ERRNO.EDQUOT, 'the overlay or a tmpfs is full (size or nodes)'],
  [ERRNO.EMFILE, 'open files limit (RLIMIT_NOFILE)'],
  [ERRNO.ENFILE, "the sandbox's open files"],
]);

export class AccessLog {
  /** the absolute sandbox paths the current call named, in order */
  private readonly paths: string[] = [];
  /** the current call's FileOp (the table's, or the one its handler set); null: not a path call */
  private op: FileOp | null = null;
  /** the hidden path the current call ran into (its first), or null */
  private hidden: string | null = null;
  /** the last names the call looks up in a directory itself (to create or remove them), as many as paths */
  private readonly names: { dir: Location; name: string }[] = [];
  /** what the current call attempts that the Sentry refuses to every guest, reported should it fail */
  private refusal: string | null = null;

  constructor(
    private readonly events: AccessEvents,
    private readonly log: Logger,
  ) {}

  /** A call begins; `op` is the table's FileOp for it, if any. */
  begin(op: FileOp | null): void {
    this.paths.length = 0;
    this.names.length = 0;
    this.op = op;
    this.hidden = null;
    this.refusal = null;
  }

  /** The call is one the Sentry refuses to every guest (`what` says which): a `syscall` denial if it fails. */
  refuse(what: string): void {
    this.refusal = what;
  }

  /** The handler refines the call's FileOp (an open's, by its flags and whether it created the file). */
  setOp(op: FileOp): void {
    if (this.op) this.op = op;
  }

  /** The call named `p`, walked from `from` (its cwd or dirfd). */
  named(t: Task, from: Location, p: string): void {
    if (this.paths.length >= PATHS_MAX) return;
    this.paths.push(absolute(t, from, p));
  }

  /** The call will look `name` up in `dir` itself (after resolving the rest of its path: create, remove, rename). */
  lastName(dir: Location, name: string): void {
    if (this.names.length < PATHS_MAX) this.names.push({ dir, name });
  }

  /** The call named the object at `loc` through an fd (getdents). */
  namedLocation(t: Task, loc: Location): void {
    if (this.paths.length >= PATHS_MAX) return;
    this.paths.push(display(pathOf(t.fs.root, loc) ?? '/'));
  }

  /** A lookup of `name` in `dir` met a hidden path (SandboxSpec.hidden): the call gets ENOENT. */
  hiddenHit(t: Task, dir: Location, name: string): void {
    if (this.hidden !== null) return;
    const d = pathOf(t.fs.root, dir) ?? '/';
    this.hidden = display(d === '/' ? `/${name}` : `${d}/${name}`);
  }

  /**
   * An exec the Sentry resolved and hands to the kernel: its FileAccess, to
   * report once the kernel ran or refused the image (errno 0 here); nothing
   * when the call named no path.
   */
  held(t: Task, call: string): FileAccess | undefined {
    const p = this.paths[0];
    return this.op && p !== undefined ? { pid: t.proc.pid, op: this.op, call, path: p, errno: 0 } : undefined;
  }

  /** The call ended: `errno` 0 for success. Reports the file access and what refused it. */
  end(t: Task, call: string, errno: number): void {
    try {
      this.report(t, call, errno);
    } catch (err) {
      // After the call, nothing here may fail the guest's call or the Sentry.
      this.log.error({ err, call }, 'reporting a path call failed');
    }
  }

  private report(t: Task, call: string, errno: number): void {
    const op = this.op;
    const pid = t.proc.pid;
    if (this.refusal !== null && errno) this.denied({ pid, rule: 'syscall', what: this.refusal, errno });
    const p = this.paths[0];
    // A name the call found absent itself (unlink, rename's source) may be a hidden one.
    if (errno === ERRNO.ENOENT && this.hidden === null) {
      const n = this.names.find((x) => x.dir.dentry.node.hides(x.name));
      if (n) this.hiddenHit(t, n.dir, n.name);
    }
    const to = this.paths[1];
    const pathCall = op !== null && p !== undefined;
    if (pathCall) this.file(to !== undefined && (op === 'rename' || call.startsWith('link')) ? { pid, op, call, path: p, to, errno } : { pid, op, call, path: p, errno });
    // A call that is no path call of its own (a send to a unix path) still reports a hidden path it met.
    if (this.hidden !== null) this.denied({ pid, rule: 'hidden', what: `${call} ${p ?? this.hidden}`, path: this.hidden, errno });
    if (!pathCall || this.hidden !== null) return;
    const what = `${call} ${p}`;
    if (errno === ERRNO.EROFS) this.denied({ pid, rule: 'read-only', what, path: to ?? p, errno });
    else if (LIMITS.has(errno)) this.denied({ pid, rule: 'limit', what: `${what}: ${errnoName(errno)}, ${LIMITS.get(errno)}`, path: to ?? p, errno });
  }

  file(a: FileAccess): void {
    this.deliver(() => this.events.onFileAccess(a));
  }

  denied(d: Denial): void {
    this.deliver(() => this.events.onDenied(d));
  }

  network(a: NetworkAttempt): void {
    this.deliver(() => this.events.onNetwork(a));
  }

  /** An observer that fails is logged, never the guest's call's business. */
  private deliver(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.log.error({ err }, 'the access observer failed');
    }
  }
}

/** What folding changes: repeated slashes, "." and ".." components, a trailing slash. */
const UNFOLDED = /\/\/|\/\.\.?(?:\/|$)|.\/$/;

/** `p` as an absolute sandbox path: joined to the directory it starts from, "." and ".." folded. */
function absolute(t: Task, from: Location, p: string): string {
  const joined = p.startsWith('/') ? p : `${pathOf(t.fs.root, from) ?? '/'}/${p}`;
  if (!UNFOLDED.test(joined)) return display(joined);
  const n = path.posix.normalize(joined);
  return display(n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n);
}

/** A path as the guest's bytes (latin1 in the Sentry) read as UTF-8, for the report. */
function display(p: string): string {
  return /[^\x00-\x7f]/.test(p) ? Buffer.from(p, 'latin1').toString('utf8') : p;
}
