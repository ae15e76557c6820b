// The container state store of the OCI runtime, laid out like runc's under
// the runtime's --root (default /var/run/tsvisor):
//
//   <root>/                 0711, created on first use
//   <root>/.lock            flock'ed for operations on the set of containers (create)
//   <root>/<id>/            0711, one per container, made with an exclusive mkdir
//   <root>/<id>/state.json  0600, the ContainerState, replaced atomically
//   <root>/<id>/lock        flock'ed around read-modify-write of the state
//   <root>/<id>/control.sock  the sandbox process's control socket (src/oci/control.ts)
//   <root>/<id>/direct-start  empty: `start` needs no Node (bin/tsvisor)
//   <root>/<id>/direct-delete the cgroup directories, one a line: `delete` needs no Node (bin/tsvisor)
//
// Each CLI command is a short process that reads the state, maybe changes it
// and exits; the sandbox process (`tsvisor boot`) updates it as the container
// moves on. Consistency comes from three rules:
//
// * state.json is only ever replaced by rename(2) of a complete temporary
//   file, so a reader sees the old or the new state, never a torn one; a
//   crash leaves at worst a `state.json.tmp-<pid>` beside it, which nothing
//   reads. Nothing is fsync'ed (runc does not either): the state describes
//   processes that do not outlive the machine, and a state.json that a power
//   loss left unreadable makes a broken container, which `delete --force`
//   clears. The fsyncs cost ~4 ms each on this disk, 20 ms per `run`.
// * create() makes the directory and writes the first state.json while
//   holding <root>/.lock exclusively; whoever takes that lock (shared) sees
//   either no directory or a complete one. A directory without a readable
//   state.json is therefore a create that crashed: list() skips it and
//   listBroken() names it so that `delete --force` can clear it.
// * remove() first renames the directory out of the way (to a name that is
//   not a valid id), then deletes it: the container disappears at once, and a
//   process waiting for its lock finds it gone instead of locking a dead file.
//
// Locks are flock(2) through the native addon. A blocking lock blocks the
// whole Node thread (the event loop does not run meanwhile). That is fine for
// the CLI, where each command is a short process doing one thing, and for the
// sandbox process, which holds a container lock only for a load and a save;
// no lock is ever held across an await. Lock order: the root lock before a
// container lock, never the other way round.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { native } from '../platform/native.js';
import type { CgroupPaths, ResourceLimits } from './cgroups.js';
import type { Hook } from './spec.js';

export type StateErrorCode = 'not-found' | 'exists' | 'invalid' | 'locked';

/** A failure the client should see as is (exit status 1, the message on stderr). */
export class StateError extends Error {
  constructor(
    readonly code: StateErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StateError';
  }
}

export type ContainerStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface ContainerState {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** the sandbox (Sentry) process pid; 0 when none */
  pid: number;
  bundle: string;
  rootfs: string;
  /** ISO 8601 time */
  created: string;
  annotations: Record<string, string>;
  owner: string;
  // tsvisor-private fields
  sentryPid: number;
  /** field 22 of /proc/<pid>/stat (clock ticks after boot), to detect pid reuse */
  sentryStartTime: number;
  controlSocket: string;
  /** host pid of the container's init */
  initPid?: number;
  exitStatus?: number;
  /** the container's cgroup directories (resolved at create; those the sandbox could make) */
  cgroups?: CgroupPaths;
  /** linux.resources as applied, with later updates (`update` merges into them) */
  resources?: ResourceLimits;
  /** the guest processes are frozen (pause); status stays what it was before, for resume */
  paused?: boolean;
  /** path of the saved config */
  config: string;
  /**
   * The poststop hooks as config.json had them at create: delete runs
   * these, as runc runs those it saved then (not config.json's hooks at
   * delete). Absent in a state an older tsvisor wrote.
   */
  poststop?: Hook[];
}

/** The state `runc state` prints (and hooks get on stdin), fields in runc's order. */
export interface OciState {
  ociVersion: string;
  id: string;
  pid: number;
  status: ContainerStatus;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations: Record<string, string>;
}

export interface Lock {
  /** the locked file */
  readonly path: string;
  /** Unlocks and closes; a second call does nothing. */
  release(): void;
}

export interface LockOptions {
  /** a shared (reader) lock instead of an exclusive one; default false */
  shared?: boolean;
  /** block until the lock is free (default true); with false a held lock throws StateError 'locked' */
  wait?: boolean;
}

const ID_RE = /^[\w+\-.]+$/;
const MAX_ID = 1024;
/** The root-level lock file; refused as an id since it lives beside the container directories. */
const ROOT_LOCK = '.lock';
const STATE_FILE = 'state.json';
/**
 * Left by create when `start` has nothing to do but ask the sandbox process
 * (no poststart hooks): bin/tsvisor then asks it itself, without Node.
 */
export const DIRECT_START_FILE = 'direct-start';
/**
 * Left by the sandbox process as its container stops, when deleting it
 * needs no Node (no poststop hooks, not paused): bin/tsvisor removes the
 * cgroup directories it lists, one a line, and the container's directory.
 */
const DIRECT_DELETE_FILE = 'direct-delete';
const LOCK_FILE = 'lock';
/** Prefix of directories being removed; '#' cannot appear in an id, so list() never sees them. */
const TRASH_PREFIX = '#deleting-';

const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const { EINTR, EWOULDBLOCK, EAGAIN } = os.constants.errno;

function isValidId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_ID && id !== '.' && id !== '..' && id !== ROOT_LOCK && ID_RE.test(id);
}

/**
 * runc's rule for container ids: letters, digits and `_ + - .`, not `.` or
 * `..`, at most 1024 characters. `.lock` is refused too (the store's own
 * lock file). Throws StateError 'invalid'.
 */
export function validateId(id: string): void {
  if (typeof id === 'string' && isValidId(id)) return;
  let why: string;
  if (typeof id !== 'string') throw new StateError('invalid', `invalid container id ${String(id)}: not a string`);
  else if (id.length === 0) why = 'it is empty';
  else if (id.length > MAX_ID) why = `it is longer than ${MAX_ID} characters`;
  else if (id === '.' || id === '..') why = 'it names a directory';
  else if (id === ROOT_LOCK) why = 'the name is reserved';
  else why = 'only letters, digits and _ + - . are allowed';
  throw new StateError('invalid', `invalid container id ${JSON.stringify(id)}: ${why}`);
}

function notFound(id: string, detail?: string): StateError {
  return new StateError('not-found', `container ${JSON.stringify(id)} does not exist${detail ? ` (${detail})` : ''}`);
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

/** Path components that do not exist, or cannot (the id too long for a file name). */
function isMissing(e: unknown): boolean {
  const c = errno(e);
  return c === 'ENOENT' || c === 'ENOTDIR' || c === 'ENAMETOOLONG';
}

class FileLock implements Lock {
  #fd: number | null;
  constructor(
    fd: number,
    readonly path: string,
  ) {
    this.#fd = fd;
  }

  release(): void {
    const fd = this.#fd;
    if (fd === null) return;
    this.#fd = null;
    native.flock(fd, LOCK_UN);
    fs.closeSync(fd);
  }
}

/** flock with EINTR retried; true when locked, false when busy (LOCK_NB only). */
function flock(fd: number, shared: boolean, wait: boolean): boolean {
  const op = (shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB);
  for (;;) {
    const r = native.flock(fd, op);
    if (r === 0) return true;
    if (r === -EINTR) continue;
    if (r === -EWOULDBLOCK || r === -EAGAIN) return false;
    throw new Error(`flock: errno ${-r}`);
  }
}

const STATUSES: readonly ContainerStatus[] = ['creating', 'created', 'running', 'paused', 'stopped'];

/** What is on disk for one id. */
type Lookup = { kind: 'ok'; state: ContainerState } | { kind: 'missing' } | { kind: 'broken'; why: string };

/** One field-by-field check of what JSON.parse gave: enough to refuse a foreign or truncated file. */
function checkState(v: unknown, id: string): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'its state.json is not an object';
  const s = v as Record<string, unknown>;
  if (s.id !== id) return `its state.json is for ${JSON.stringify(s.id)}`;
  const strings = ['ociVersion', 'status', 'bundle', 'rootfs', 'created', 'owner', 'controlSocket', 'config'];
  for (const k of strings) if (typeof s[k] !== 'string') return `its state.json has no ${k}`;
  for (const k of ['pid', 'sentryPid', 'sentryStartTime']) if (typeof s[k] !== 'number') return `its state.json has no ${k}`;
  if (!STATUSES.includes(s.status as ContainerStatus)) return `its state.json has an unknown status ${JSON.stringify(s.status)}`;
  if (typeof s.annotations !== 'object' || s.annotations === null) return 'its state.json has no annotations';
  return null;
}

export class StateStore {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** The container's directory (the id is validated: it cannot escape the root). */
  dir(id: string): string {
    validateId(id);
    return path.join(this.root, id);
  }

  /**
   * Records a new container: makes `<root>/<id>` (0711) exclusively and
   * writes its first state. Throws 'exists' when the id is taken, 'invalid'
   * for a bad id. Holds the root lock throughout, so a concurrent
   * listBroken() or load() never mistakes it for a crashed create.
   */
  create(state: ContainerState): void {
    const dir = this.dir(state.id);
    const lock = this.lockRoot();
    try {
      try {
        fs.mkdirSync(dir, { mode: 0o711 });
      } catch (e) {
        if (errno(e) === 'EEXIST') throw new StateError('exists', `container ${JSON.stringify(state.id)} already exists`);
        if (errno(e) === 'ENAMETOOLONG') throw new StateError('invalid', `invalid container id ${JSON.stringify(state.id)}: too long for a file name`);
        throw e;
      }
      try {
        fs.chmodSync(dir, 0o711); // whatever the umask
        fs.closeSync(fs.openSync(path.join(dir, LOCK_FILE), fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o600));
        this.save(state);
      } catch (e) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    } finally {
      lock.release();
    }
  }

  /** The saved state. Throws 'not-found' (also for a directory whose state.json is missing or corrupt). */
  load(id: string): ContainerState {
    validateId(id);
    let r = this.#lookup(id);
    if (r.kind === 'broken') {
      // Maybe a create in progress: it holds the root lock until state.json is written.
      const lock = this.#tryLockRootShared();
      if (lock) {
        try {
          r = this.#lookup(id);
        } finally {
          lock.release();
        }
      }
    }
    if (r.kind === 'ok') return r.state;
    throw notFound(id, r.kind === 'broken' ? r.why : undefined);
  }

  /**
   * Replaces the state atomically: writes `state.json.tmp-<pid>` and
   * renames it over state.json. Throws 'not-found'
   * when the container's directory is gone (deleted meanwhile).
   */
  save(state: ContainerState): void {
    const dir = this.dir(state.id);
    const file = path.join(dir, STATE_FILE);
    const tmp = `${file}.tmp-${process.pid}`;
    let fd: number;
    try {
      fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o600);
    } catch (e) {
      if (isMissing(e)) throw notFound(state.id);
      throw e;
    }
    try {
      try {
        fs.writeFileSync(fd, `${JSON.stringify(state)}\n`);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      if (isMissing(e)) throw notFound(state.id);
      throw e;
    }
  }

  /**
   * Writes DIRECT_DELETE_FILE (atomically: bin/tsvisor reads it without the
   * lock first) listing `cgroupDirs`. The caller holds the container's lock
   * and has saved or is saving it as stopped. Nothing is written when a
   * directory's name holds a newline: `delete` is then Node's.
   */
  allowDirectDelete(id: string, cgroupDirs: readonly string[]): void {
    if (cgroupDirs.some((d) => d.includes('\n'))) return;
    const file = path.join(this.dir(id), DIRECT_DELETE_FILE);
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, cgroupDirs.map((d) => `${d}\n`).join(''), { mode: 0o600 });
    fs.renameSync(tmp, file);
  }

  /**
   * Deletes the container's directory and everything in it (rm -rf); nothing
   * to do when it does not exist. The caller normally holds its lock.
   */
  remove(id: string): void {
    const dir = this.dir(id);
    // pid and monotonic time make the name unique without loading node:crypto (5 ms per command).
    const trash = path.join(this.root, `${TRASH_PREFIX}${process.pid}-${process.hrtime.bigint()}`);
    try {
      fs.renameSync(dir, trash);
    } catch (e) {
      if (isMissing(e)) return;
      throw e;
    }
    fs.rmSync(trash, { recursive: true, force: true });
    this.#sweepTrash();
  }

  /** The containers with a readable state, sorted by id; crashed creates are left out (see listBroken). */
  list(): ContainerState[] {
    const out: ContainerState[] = [];
    for (const id of this.#ids()) {
      const r = this.#lookup(id);
      if (r.kind === 'ok') out.push(r.state);
    }
    return out;
  }

  /**
   * Ids of container directories without a readable state.json (a create
   * that crashed, or a damaged file), sorted: what `delete --force` should
   * clear. A create in progress is not reported (this waits for the root lock).
   */
  listBroken(): string[] {
    if (!fs.existsSync(this.root)) return [];
    const lock = this.lockRoot({ shared: true });
    try {
      return this.#ids().filter((id) => this.#lookup(id).kind === 'broken');
    } finally {
      lock.release();
    }
  }

  /**
   * flock on `<root>/<id>/lock`: exclusive by default, shared with
   * `shared`. Blocks the thread until granted unless `wait: false`, which
   * throws 'locked' when another open file holds a conflicting lock (locks
   * are per open file, so two lock() calls in one process conflict too).
   * Throws 'not-found' when the container does not exist, including when it
   * is removed while waiting.
   */
  lock(id: string, opts: LockOptions = {}): Lock {
    const dir = this.dir(id);
    const file = path.join(dir, LOCK_FILE);
    for (let attempt = 0; attempt < 100; attempt++) {
      let fd: number;
      try {
        fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o600);
      } catch (e) {
        if (isMissing(e)) throw notFound(id);
        throw e;
      }
      let locked = false;
      try {
        if (!flock(fd, opts.shared ?? false, opts.wait ?? true)) {
          throw new StateError('locked', `container ${JSON.stringify(id)} is locked by another process`);
        }
        // The directory may have been removed (or removed and made again)
        // while we waited: only a lock on the file now at `file` counts.
        const held = fs.fstatSync(fd);
        let now: fs.Stats | undefined;
        try {
          now = fs.statSync(file);
        } catch (e) {
          if (!isMissing(e)) throw e;
        }
        if (now && now.ino === held.ino && now.dev === held.dev) {
          locked = true;
          return new FileLock(fd, file);
        }
      } finally {
        if (!locked) fs.closeSync(fd); // closing drops the lock
      }
      if (!fs.existsSync(dir)) throw notFound(id);
    }
    throw new Error(`cannot lock ${file}: it keeps being replaced`);
  }

  /**
   * flock on `<root>/.lock`, for operations on the set of containers
   * (create takes it exclusively). Makes the root if missing. Same options
   * and blocking behaviour as lock().
   */
  lockRoot(opts: LockOptions = {}): Lock {
    this.#ensureRoot();
    const file = path.join(this.root, ROOT_LOCK);
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o600);
    try {
      if (!flock(fd, opts.shared ?? false, opts.wait ?? true)) {
        throw new StateError('locked', `the state directory ${this.root} is locked by another process`);
      }
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    return new FileLock(fd, file);
  }

  /** The root lock, shared, or null when the root is gone or cannot be locked by this user. */
  #tryLockRootShared(): Lock | null {
    try {
      return this.lockRoot({ shared: true });
    } catch (e) {
      if (isMissing(e) || errno(e) === 'EACCES' || errno(e) === 'EROFS') return null;
      throw e;
    }
  }

  #ensureRoot(): void {
    const made = fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    if (made !== undefined) fs.chmodSync(this.root, 0o711);
  }

  /** Names under the root that are container directories, sorted. */
  #ids(): string[] {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(this.root, { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return [];
      throw e;
    }
    return entries
      .filter((e) => e.isDirectory() && isValidId(e.name))
      .map((e) => e.name)
      .sort();
  }

  #lookup(id: string): Lookup {
    const dir = path.join(this.root, id);
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, STATE_FILE), 'utf8');
    } catch (e) {
      if (!isMissing(e)) throw e;
      try {
        if (fs.statSync(dir).isDirectory()) return { kind: 'broken', why: 'its directory has no state.json: a create that did not finish' };
      } catch (e2) {
        if (!isMissing(e2)) throw e2;
      }
      return { kind: 'missing' };
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { kind: 'broken', why: 'its state.json is not valid JSON' };
    }
    const bad = checkState(value, id);
    return bad ? { kind: 'broken', why: bad } : { kind: 'ok', state: value as ContainerState };
  }

  /** Deletes what remove() left behind when its process died between the rename and the rm. */
  #sweepTrash(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(TRASH_PREFIX)) continue;
      const pid = Number(name.slice(TRASH_PREFIX.length).split('-')[0]);
      if (Number.isInteger(pid) && pid > 0 && readStat(pid) === null) {
        fs.rmSync(path.join(this.root, name), { recursive: true, force: true });
      }
    }
  }
}

/** The state letter (field 3) and start time (field 22) of /proc/<pid>/stat, or null. */
function readStat(pid: number): { state: string; startTime: number } | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may itself hold
  // spaces and parentheses: the fields proper start after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const fields = text.slice(close + 2).split(' '); // fields[0] is field 3
  const startTime = Number(fields[22 - 3]);
  if (!fields[0] || !Number.isFinite(startTime)) return null;
  return { state: fields[0], startTime };
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks after boot; null if there is no such process. */
export function processStartTime(pid: number): number | null {
  return readStat(pid)?.startTime ?? null;
}

/**
 * Whether `pid` is a live process and the same one that was recorded: its
 * start time must equal `startTime` (so a recycled pid does not count). A
 * zombie (exited, not yet reaped) is not alive.
 */
export function isAlive(pid: number, startTime: number): boolean {
  const st = readStat(pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X' && st.startTime === startTime;
}

/**
 * The live status: 'stopped' once the sandbox process (sentryPid with
 * sentryStartTime) is gone, or when there never was one (sentryPid 0: a
 * create that has not got as far as starting it, which, as with runc, counts
 * as stopped); 'paused' while pause has the guests frozen; otherwise the
 * saved status.
 */
export function status(state: ContainerState): ContainerStatus {
  if (state.status === 'stopped' || !isAlive(state.sentryPid, state.sentryStartTime)) return 'stopped';
  return state.paused ? 'paused' : state.status;
}

/** The OCI state `tsvisor state` prints, as `runc state` does (pid 0 once stopped). */
export function ociState(state: ContainerState): OciState {
  const st = status(state);
  return {
    ociVersion: state.ociVersion,
    id: state.id,
    pid: st === 'stopped' ? 0 : state.pid,
    status: st,
    bundle: state.bundle,
    rootfs: state.rootfs,
    created: state.created,
    owner: state.owner,
    annotations: { ...state.annotations },
  };
}
