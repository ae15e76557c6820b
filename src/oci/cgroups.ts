// Host cgroups of an OCI container: linux.cgroupsPath resolved as runc
// resolves it, linux.resources written to cgroup v1 or v2 files, the freezer
// behind pause/resume, and the numbers `events` reports.
//
// Who goes where (docs/design.md, "Cgroups"): the whole sandbox (the Sentry,
// the Gofer and the guests) is charged to the container's memory, cpu and
// cpuset cgroups, because the Sentry holds the container's in-memory files;
// only guest processes go to the freezer (a frozen Sentry could not answer
// `resume` or `kill`) and to pids (the Sentry's and the Gofer's own threads
// would use up a small limit). On v2 the container's cgroup has two leaves,
// `sandbox` and `guest`, for the same split.
//
// Paths are absolute host paths, resolved once at create and kept in the
// container's state; every later command works from the state.
import fs from 'node:fs';
import path from 'node:path';
import { OOM_SCORE_ADJ_MAX, OOM_SCORE_ADJ_MIN, USER_HZ } from '../abi/linux.js';
import { type DeviceRule, type DeviceType, containerDeviceRules, deviceListMatches, deviceTransition } from './cgroup-devices.js';
import { RuntimeError } from './runtime.js';
import { SpecError } from './spec.js';

// ---- linux.resources ----------------------------------------------------------

export interface MemoryLimits {
  /** bytes; -1 unlimited */
  limit?: number;
  reservation?: number;
  /** memory plus swap, bytes (as runc and cgroup v1 count it); -1 unlimited */
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
}

export interface CpuLimits {
  shares?: number;
  /** microseconds per period; -1 unlimited */
  quota?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  /** cpuset lists such as "0-2,4" */
  cpus?: string;
  mems?: string;
}

export interface ThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface BlockIoLimits {
  weight?: number;
  leafWeight?: number;
  weightDevice?: { major: number; minor: number; weight?: number; leafWeight?: number }[];
  throttleReadBpsDevice?: ThrottleDevice[];
  throttleWriteBpsDevice?: ThrottleDevice[];
  throttleReadIOPSDevice?: ThrottleDevice[];
  throttleWriteIOPSDevice?: ThrottleDevice[];
}

/**
 * The part of linux.resources tsvisor applies. `update` changes memory, cpu
 * and pids; the others are set at create only.
 */
export interface ResourceLimits {
  memory?: MemoryLimits;
  cpu?: CpuLimits;
  pids?: { limit?: number };
  blockIO?: BlockIoLimits;
  hugepageLimits?: { pageSize: string; limit: number }[];
  network?: { classID?: number; priorities?: { name: string; priority: number }[] };
  /** the spec's rules; containerDeviceRules adds runc's defaults */
  devices?: DeviceRule[];
}

/** A cgroup file that could not be written or a controller that is missing; reported to the client as is. */
export class CgroupError extends RuntimeError {}

type Obj = Record<string, unknown>;

/** 2^63: JSON numbers are doubles, so int64's largest value (2^63-1) arrives as this. */
const INT64 = 2 ** 63;

function invalid(at: string, msg: string): never {
  throw new SpecError(`${at} ${msg}`);
}

function section(raw: Obj, key: string, at: string): Obj | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) invalid(`${at}.${key}`, `must be an object, not ${JSON.stringify(v)}`);
  return v as Obj;
}

function integer(o: Obj, key: string, at: string, unsigned: boolean): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v > (unsigned ? 2 * INT64 : INT64) || v < (unsigned ? 0 : -INT64)) {
    invalid(`${at}.${key}`, `must be ${unsigned ? 'a non-negative' : 'an'} integer, not ${JSON.stringify(v)}`);
  }
  return v;
}

const CPUSET_LIST = /^(\d+(-\d+)?)(,\d+(-\d+)?)*$/;

function cpuList(o: Obj, key: string, at: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || (v !== '' && !CPUSET_LIST.test(v))) invalid(`${at}.${key}`, `must be a list such as "0-2,4", not ${JSON.stringify(v)}`);
  return v;
}

function list(o: Obj, key: string, at: string): Obj[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) invalid(`${at}.${key}`, `must be an array, not ${JSON.stringify(v)}`);
  return v.map((e, i) => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) invalid(`${at}.${key}[${i}]`, `must be an object, not ${JSON.stringify(e)}`);
    return e as Obj;
  });
}

function required<T>(v: T | undefined, at: string): T {
  if (v === undefined) invalid(at, 'is required');
  return v;
}

function parseBlockIO(b: Obj, at: string): BlockIoLimits {
  const out: BlockIoLimits = {};
  set(out, 'weight', integer(b, 'weight', at, true));
  set(out, 'leafWeight', integer(b, 'leafWeight', at, true));
  const devices = list(b, 'weightDevice', at).map((d, i) => {
    const a = `${at}.weightDevice[${i}]`;
    const w: NonNullable<BlockIoLimits['weightDevice']>[number] = {
      major: required(integer(d, 'major', a, false), `${a}.major`),
      minor: required(integer(d, 'minor', a, false), `${a}.minor`),
    };
    set(w, 'weight', integer(d, 'weight', a, true));
    set(w, 'leafWeight', integer(d, 'leafWeight', a, true));
    return w;
  });
  if (devices.length) out.weightDevice = devices;
  for (const key of ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'] as const) {
    const t = list(b, key, at).map((d, i) => {
      const a = `${at}.${key}[${i}]`;
      return { major: required(integer(d, 'major', a, false), `${a}.major`), minor: required(integer(d, 'minor', a, false), `${a}.minor`), rate: integer(d, 'rate', a, true) ?? 0 };
    });
    if (t.length) out[key] = t;
  }
  return out;
}

const PAGE_SIZE = /^\d+[KMGTP]?B$/;

function parseDevices(r: Obj, at: string): DeviceRule[] {
  return list(r, 'devices', at).map((d, i) => {
    const a = `${at}.devices[${i}]`;
    const type = d.type ?? 'a';
    if (type !== 'a' && type !== 'b' && type !== 'c') invalid(`${a}.type`, `must be "a", "b" or "c", not ${JSON.stringify(type)}`);
    const access = d.access;
    // runc refuses an empty access; the kernel takes only r, w and m.
    if (typeof access !== 'string' || !/^[rwm]+$/.test(access)) invalid(`${a}.access`, `must be some of "rwm", not ${JSON.stringify(access)}`);
    if (typeof d.allow !== 'boolean') invalid(`${a}.allow`, `must be true or false, not ${JSON.stringify(d.allow)}`);
    return { allow: d.allow, type: type as DeviceType, major: integer(d, 'major', a, false) ?? -1, minor: integer(d, 'minor', a, false) ?? -1, access };
  });
}

function set<T extends object, K extends keyof T>(o: T, key: K, v: T[K] | undefined): void {
  if (v !== undefined) o[key] = v;
}

/** True when a value of linux.resources asks for something (Docker sends zeros and empty lists for "unset"). */
function asksForSomething(v: unknown): boolean {
  if (v === undefined || v === null || v === 0 || v === false || v === '') return false;
  if (Array.isArray(v)) return v.some(asksForSomething);
  if (typeof v === 'object') return Object.values(v as Obj).some(asksForSomething);
  return true;
}

/**
 * Validates linux.resources (or, `forUpdate`, the JSON of `update
 * --resources`) into ResourceLimits; `ignored` names the sections that ask
 * for something tsvisor does not apply (rdma, unified; for update also
 * those set at create only). Throws SpecError.
 */
export function parseResources(raw: unknown, at = 'linux.resources', forUpdate = false): { limits: ResourceLimits; ignored: string[] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) invalid(at, `must be an object, not ${JSON.stringify(raw)}`);
  const r = raw as Obj;
  const limits: ResourceLimits = {};
  const mem = section(r, 'memory', at);
  if (mem) {
    const a = `${at}.memory`;
    const m: MemoryLimits = {};
    set(m, 'limit', integer(mem, 'limit', a, false));
    set(m, 'reservation', integer(mem, 'reservation', a, false));
    set(m, 'swap', integer(mem, 'swap', a, false));
    set(m, 'kernel', integer(mem, 'kernel', a, false));
    set(m, 'kernelTCP', integer(mem, 'kernelTCP', a, false));
    const swappiness = integer(mem, 'swappiness', a, true);
    if (swappiness !== undefined && swappiness > 100) invalid(`${a}.swappiness`, `${swappiness} is out of range 0..100`);
    set(m, 'swappiness', swappiness);
    const d = mem.disableOOMKiller;
    if (d !== undefined && d !== null && typeof d !== 'boolean') invalid(`${a}.disableOOMKiller`, `must be true or false, not ${JSON.stringify(d)}`);
    if (d === true) m.disableOOMKiller = true;
    limits.memory = m;
  }
  const cpu = section(r, 'cpu', at);
  if (cpu) {
    const a = `${at}.cpu`;
    const c: CpuLimits = {};
    set(c, 'shares', integer(cpu, 'shares', a, true));
    set(c, 'quota', integer(cpu, 'quota', a, false));
    set(c, 'period', integer(cpu, 'period', a, true));
    set(c, 'realtimeRuntime', integer(cpu, 'realtimeRuntime', a, false));
    set(c, 'realtimePeriod', integer(cpu, 'realtimePeriod', a, true));
    set(c, 'cpus', cpuList(cpu, 'cpus', a));
    set(c, 'mems', cpuList(cpu, 'mems', a));
    limits.cpu = c;
  }
  const pids = section(r, 'pids', at);
  if (pids) {
    limits.pids = {};
    set(limits.pids, 'limit', integer(pids, 'limit', `${at}.pids`, false));
  }
  const notApplied = forUpdate ? ['blockIO', 'hugepageLimits', 'network', 'devices', 'rdma', 'unified'] : ['rdma', 'unified'];
  const ignored = notApplied.filter((k) => asksForSomething(r[k])).map((k) => `${at}.${k}`);
  if (forUpdate) return { limits, ignored };
  const blockIO = section(r, 'blockIO', at);
  if (blockIO) limits.blockIO = parseBlockIO(blockIO, `${at}.blockIO`);
  const huge = list(r, 'hugepageLimits', at).map((h, i) => {
    const a = `${at}.hugepageLimits[${i}]`;
    const pageSize = h.pageSize;
    // Written into a file name: nothing but a size such as "2MB".
    if (typeof pageSize !== 'string' || !PAGE_SIZE.test(pageSize)) invalid(`${a}.pageSize`, `must be a size such as "2MB", not ${JSON.stringify(pageSize)}`);
    return { pageSize, limit: required(integer(h, 'limit', a, true), `${a}.limit`) };
  });
  if (huge.length) limits.hugepageLimits = huge;
  const network = section(r, 'network', at);
  if (network) {
    const a = `${at}.network`;
    const n: NonNullable<ResourceLimits['network']> = {};
    set(n, 'classID', integer(network, 'classID', a, true));
    const priorities = list(network, 'priorities', a).map((p, i) => {
      const name = p.name;
      // One "name priority" line: a name with a blank or a newline would be another.
      if (typeof name !== 'string' || !/^[^\s/]+$/.test(name)) invalid(`${a}.priorities[${i}].name`, `must be an interface name, not ${JSON.stringify(name)}`);
      return { name, priority: integer(p, 'priority', `${a}.priorities[${i}]`, true) ?? 0 };
    });
    if (priorities.length) n.priorities = priorities;
    limits.network = n;
  }
  const devices = parseDevices(r, at);
  if (devices.length) limits.devices = devices;
  return { limits, ignored };
}

/** `base` with the fields `patch` sets replaced (what `update` does to the recorded resources). */
export function mergeResources(base: ResourceLimits, patch: ResourceLimits): ResourceLimits {
  const out: ResourceLimits = { ...base };
  if (patch.memory) out.memory = { ...base.memory, ...patch.memory };
  if (patch.cpu) out.cpu = { ...base.cpu, ...patch.cpu };
  if (patch.pids) out.pids = { ...base.pids, ...patch.pids };
  return out;
}

// ---- where the container's cgroups are --------------------------------------------

/** What the host's cgroup set-up looks like: the text of /proc/self/mountinfo and /proc/self/cgroup. */
export interface CgroupHost {
  mountinfo: string;
  selfCgroup: string;
}

export function readCgroupHost(): CgroupHost {
  return { mountinfo: fs.readFileSync('/proc/self/mountinfo', 'utf8'), selfCgroup: fs.readFileSync('/proc/self/cgroup', 'utf8') };
}

/** The v1 controllers tsvisor uses: those of runc 1.1.5 that take limits. */
export const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'freezer', 'blkio', 'devices', 'hugetlb', 'net_cls', 'net_prio'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];
/**
 * v1 controllers the whole sandbox joins (the Sentry and the Gofer do the
 * container's I/O, hold its files and make its sockets); the others take
 * guest processes only, and the devices cgroup would deny the Sentry the
 * host devices it serves /dev from.
 */
const V1_SANDBOX: readonly V1Controller[] = ['memory', 'cpu', 'cpuacct', 'cpuset', 'blkio', 'hugetlb', 'net_cls', 'net_prio'];
const V1_GUEST: readonly V1Controller[] = ['pids', 'freezer', 'devices'];
/** The anchor (the pid clients take for the container's) joins these besides the sandbox's, until start (see joinAnchor). */
const V1_ANCHOR: readonly V1Controller[] = ['pids', 'devices'];
/** v2 controllers enabled for the container's cgroup. */
const V2_CONTROLLERS = ['cpu', 'cpuset', 'memory', 'pids'];
const V2_SANDBOX_LEAF = 'sandbox';
const V2_GUEST_LEAF = 'guest';

/** The container's cgroup directories, as recorded in its state. */
export type CgroupPaths = { version: 1; dirs: Partial<Record<V1Controller, string>> } | { version: 2; mount: string; dir: string };

interface Mount {
  fstype: string;
  /** the path inside the hierarchy that is mounted */
  root: string;
  mountpoint: string;
  superOptions: string[];
}

const unescapeMountField = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

function cgroupMounts(mountinfo: string): Mount[] {
  const out: Mount[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (dash < 6 || f.length < dash + 4) continue;
    const fstype = f[dash + 1]!;
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    out.push({ fstype, root: unescapeMountField(f[3]!), mountpoint: unescapeMountField(f[4]!), superOptions: f[dash + 3]!.split(',') });
  }
  return out;
}

/** The cgroup this process is in, for a v1 controller or ('' ) the v2 hierarchy, from /proc/self/cgroup. */
function ownCgroup(selfCgroup: string, controller: string): string | undefined {
  for (const line of selfCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (controller === '' ? m[1] === '0' && m[2] === '' : m[2]!.split(',').includes(controller)) return m[3];
  }
  return undefined;
}

/**
 * runc's cleaning of cgroupsPath: an absolute path is normalised; a relative
 * one is normalised as if it started at "/" and stays relative, so ".."
 * cannot climb above where it is joined.
 */
function cleanCgroupsPath(p: string): string {
  if (p.startsWith('/')) return path.posix.normalize(p);
  return path.posix.normalize(`/${p}`).slice(1);
}

/** The directory for cgroup path `inner` in a hierarchy mounted at `m`: absolute from the mount, relative from our own cgroup. */
function dirIn(m: Mount, inner: string, own: string | undefined): string {
  if (inner.startsWith('/')) return path.posix.join(m.mountpoint, inner);
  // Our own cgroup is named from the hierarchy's root; the mount may show only a subtree of it.
  let base = own ?? '/';
  if (m.root !== '/' && (base === m.root || base.startsWith(`${m.root}/`))) base = base.slice(m.root.length) || '/';
  return path.posix.join(m.mountpoint, base, inner);
}

/**
 * The container's cgroup directories, as runc would choose them: an absolute
 * cgroupsPath from each hierarchy's mount point, a relative one below this
 * process's own cgroup, none at all as the container id (relative). cgroup v1
 * when any v1 hierarchy with one of our controllers is mounted (a "hybrid"
 * host's empty cgroup2 mount is not used), else v2. undefined when the host
 * has no cgroup file system.
 */
export function resolveCgroupPaths(host: CgroupHost, cgroupsPath: string | undefined, id: string): CgroupPaths | undefined {
  const inner = cgroupsPath ? cleanCgroupsPath(cgroupsPath) : id;
  const mounts = cgroupMounts(host.mountinfo);
  const dirs: Partial<Record<V1Controller, string>> = {};
  for (const m of mounts) {
    if (m.fstype !== 'cgroup') continue;
    for (const c of V1_CONTROLLERS) {
      if (m.superOptions.includes(c) && dirs[c] === undefined) dirs[c] = dirIn(m, inner, ownCgroup(host.selfCgroup, c));
    }
  }
  if (Object.keys(dirs).length > 0) return { version: 1, dirs };
  const unified = mounts.find((m) => m.fstype === 'cgroup2' && m.mountpoint === '/sys/fs/cgroup') ?? mounts.find((m) => m.fstype === 'cgroup2');
  if (unified) return { version: 2, mount: unified.mountpoint, dir: dirIn(unified, inner, ownCgroup(host.selfCgroup, '')) };
  return undefined;
}

/** `/run/systemd/system` exists only when systemd is the running init (sd_booted). */
export function systemdRunning(): boolean {
  return fs.existsSync('/run/systemd/system');
}

// ---- files ---------------------------------------------------------------------------

function why(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code} (${err.message.replace(/^[A-Z]+: /, '').replace(/,[\s\S]*$/, '')})` : String(e);
}

function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

/**
 * One write(2) of the whole value, as `echo value > file` does it, but
 * without creating the file: a missing file is a missing controller.
 */
function writeFile(dir: string, file: string, value: string): void {
  const p = path.join(dir, file);
  let fd: number;
  try {
    fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_TRUNC);
  } catch (e) {
    throw new CgroupError(`cannot write ${JSON.stringify(value)} to ${p}: ${why(e)}`);
  }
  try {
    fs.writeSync(fd, value);
  } catch (e) {
    throw new CgroupError(`cannot write ${JSON.stringify(value)} to ${p}: ${why(e)}`);
  } finally {
    fs.closeSync(fd);
  }
}

function readFile(dir: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** An integer file ("max" reads as `max`); undefined when the file is missing or unreadable. */
function readInt(dir: string, file: string, max = 0n): bigint | undefined {
  const s = readFile(dir, file);
  if (s === undefined || s === '') return undefined;
  if (s === 'max') return max;
  try {
    return BigInt(s);
  } catch {
    return undefined;
  }
}

/** "key value" lines (memory.stat, cpu.stat, ...) as numbers. */
function readKeyed(dir: string, file: string): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const line of (readFile(dir, file) ?? '').split('\n')) {
    const [k, v] = line.split(' ');
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = BigInt(v);
  }
  return out;
}

/** A limit as cgroup files take it: -1 (v1) or "max" (v2) for unlimited. */
const unlimitedAsMinusOne = (n: number) => (n < 0 ? '-1' : String(n));
const unlimitedAsMax = (n: number) => (n < 0 ? 'max' : String(n));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** cpu.shares (2..262144) to cpu.weight (1..10000), the conversion the OCI runtimes share. */
export function sharesToWeight(shares: number): number {
  return Math.min(10000, Math.max(1, 1 + Math.floor(((shares - 2) * 9999) / 262142)));
}

const UINT64_MAX = 2n ** 64n - 1n;

/**
 * What went wrong applying resources: a write the kernel refuses fails
 * create and `update`, as runc's, unless it is `soft` (a setting the kernel
 * accepts and ignores, which runc only warns about); a controller without a
 * cgroup (`missing`: the host has none, or refused to make it) is a warning
 * at create, where the container still runs, and fails `update`. With
 * 'warn' (`tsvisor do`) every problem is a warning.
 */
type Problem = (msg: string, kind?: 'soft' | 'missing') => void;
type ApplyMode = 'warn' | 'create' | 'update';

// ---- one container's cgroups ------------------------------------------------------------

export class ContainerCgroups {
  readonly #paths: CgroupPaths;
  /** v2: the container's cgroup could not be made */
  #unusable = false;
  /** v1: the hierarchies the host has whose directory create() could not make */
  readonly #unmade = new Set<V1Controller>();

  constructor(paths: CgroupPaths) {
    this.#paths = paths.version === 1 ? { version: 1, dirs: { ...paths.dirs } } : { ...paths };
  }

  /** The directories in use (create() drops the ones it could not make). */
  get paths(): CgroupPaths {
    return this.#paths.version === 1 ? { version: 1, dirs: { ...this.#paths.dirs } } : { ...this.#paths };
  }

  /** v1: the directory of a controller that is in use. */
  #v1(c: V1Controller): string | undefined {
    return this.#paths.version === 1 ? this.#paths.dirs[c] : undefined;
  }

  /**
   * Makes the directories: on v1 one per hierarchy (a new cpuset gets its
   * parent's cpus and mems, which the kernel leaves empty); on v2 the
   * container's cgroup with the controllers enabled on the way down, and its
   * two leaves. Returns warnings; a v1 controller whose directory cannot be
   * made is dropped, and on v2 nothing is left when the cgroup cannot be made.
   */
  create(): string[] {
    const warnings: string[] = [];
    const p = this.#paths;
    if (p.version === 1) {
      for (const c of V1_CONTROLLERS) {
        const dir = p.dirs[c];
        if (dir === undefined) continue;
        try {
          if (c === 'cpuset') makeCpuset(dir);
          else fs.mkdirSync(dir, { recursive: true });
        } catch (e) {
          warnings.push(`cannot create the ${c} cgroup ${dir}: ${why(e)}`);
          // One that exists stays recorded: delete must remove it.
          if (!fs.existsSync(dir)) {
            delete p.dirs[c];
            this.#unmade.add(c);
          }
        }
      }
      return warnings;
    }
    try {
      enableV2Controllers(p.mount, p.dir, warnings);
      for (const leaf of [V2_SANDBOX_LEAF, V2_GUEST_LEAF]) fs.mkdirSync(path.join(p.dir, leaf), { recursive: true });
    } catch (e) {
      warnings.push(`cannot create the cgroup ${p.dir}: ${why(e)}`);
      this.#unusable = true;
    }
    return warnings;
  }

  /** Whether there is any cgroup to work with. */
  get usable(): boolean {
    return !this.#unusable && (this.#paths.version === 2 || Object.keys(this.#paths.dirs).length > 0);
  }

  /**
   * Writes `limits` to the cgroup files. A problem (see Problem) that
   * `mode` makes fatal throws CgroupError; the others are returned and the
   * rest is still applied.
   */
  apply(limits: ResourceLimits, mode: ApplyMode): string[] {
    const warnings: string[] = [];
    const problem: Problem = (msg, kind) => {
      if (mode !== 'warn' && kind !== 'soft' && !(mode === 'create' && kind === 'missing')) throw new CgroupError(msg);
      warnings.push(msg);
    };
    const attempt = (f: () => void) => {
      try {
        f();
      } catch (e) {
        if (!(e instanceof CgroupError)) throw e;
        problem(e.message);
      }
    };
    if (this.#paths.version === 1) this.#applyV1(limits, problem, attempt);
    else this.#applyV2(this.#paths.dir, limits, problem, attempt);
    return warnings;
  }

  #applyV1(limits: ResourceLimits, problem: Problem, attempt: (f: () => void) => void): void {
    const m = limits.memory;
    if (m && (asksForSomething(m) || m.swappiness !== undefined)) {
      const dir = this.#v1('memory');
      if (!dir) problem('memory limits not applied: no memory cgroup', 'missing');
      else attempt(() => applyV1Memory(dir, m, problem));
    }
    const c = limits.cpu;
    if (c && asksForSomething({ ...c, cpus: undefined, mems: undefined })) {
      const dir = this.#v1('cpu');
      if (!dir) problem('cpu limits not applied: no cpu cgroup', 'missing');
      else attempt(() => applyV1Cpu(dir, c));
    }
    if (c?.cpus || c?.mems) {
      const dir = this.#v1('cpuset');
      if (!dir) problem('cpu.cpus and cpu.mems not applied: no cpuset cgroup', 'missing');
      else {
        if (c.cpus) attempt(() => writeFile(dir, 'cpuset.cpus', c.cpus!));
        if (c.mems) attempt(() => writeFile(dir, 'cpuset.mems', c.mems!));
      }
    }
    const pidsLimit = limits.pids?.limit;
    if (pidsLimit) {
      const dir = this.#v1('pids');
      if (!dir) problem('pids.limit not applied: no pids cgroup', 'missing');
      else attempt(() => writeFile(dir, 'pids.max', unlimitedAsMax(pidsLimit)));
    }
    // A limit for a hierarchy the host has not mounted fails, as runc's ("cannot set hugetlb limit").
    const withDir = (c: V1Controller, what: string, f: (dir: string) => void) => {
      const dir = this.#v1(c);
      if (dir) attempt(() => f(dir));
      else if (this.#unmade.has(c)) problem(`${what} not applied: no ${c} cgroup`, 'missing');
      else problem(`cannot set ${what}: the host has no ${c} cgroup hierarchy`);
    };
    // runc's defaults alone ask for nothing a host without the hierarchy must refuse.
    if (limits.devices && (this.#v1('devices') || limits.devices.length > containerDeviceRules([], []).length)) {
      withDir('devices', 'the device rules', (dir) => applyV1Devices(dir, limits.devices!));
    }
    if (limits.blockIO && asksForSomething(limits.blockIO)) withDir('blkio', 'blockIO', (dir) => applyV1BlockIO(dir, limits.blockIO!));
    if (limits.hugepageLimits) {
      withDir('hugetlb', 'hugepageLimits', (dir) => {
        for (const h of limits.hugepageLimits!) writeFile(dir, `hugetlb.${h.pageSize}.limit_in_bytes`, String(h.limit));
      });
    }
    const net = limits.network;
    if (net?.classID) withDir('net_cls', 'network.classID', (dir) => writeFile(dir, 'net_cls.classid', String(net.classID)));
    if (net?.priorities) {
      withDir('net_prio', 'network.priorities', (dir) => {
        for (const p of net.priorities!) writeFile(dir, 'net_prio.ifpriomap', `${p.name} ${p.priority}`);
      });
    }
  }

  #applyV2(dir: string, limits: ResourceLimits, problem: Problem, attempt: (f: () => void) => void): void {
    const m = limits.memory;
    if (m) {
      if (m.limit) attempt(() => writeFile(dir, 'memory.max', unlimitedAsMax(m.limit!)));
      if (m.reservation) attempt(() => writeFile(dir, 'memory.low', unlimitedAsMax(m.reservation!)));
      if (m.swap) attempt(() => writeFile(dir, 'memory.swap.max', v2SwapMax(dir, m)));
      if (m.kernel || m.kernelTCP) problem('memory.kernel and memory.kernelTCP not applied: cgroup v2 has no kernel memory limit', 'missing');
      if (m.swappiness !== undefined) problem('memory.swappiness not applied: cgroup v2 has no per-cgroup swappiness', 'missing');
      if (m.disableOOMKiller) problem('memory.disableOOMKiller not applied: cgroup v2 cannot disable the OOM killer', 'missing');
    }
    const c = limits.cpu;
    if (c) {
      if (c.shares) attempt(() => writeFile(dir, 'cpu.weight', String(sharesToWeight(c.shares!))));
      if (c.quota || c.period) attempt(() => writeFile(dir, 'cpu.max', v2CpuMax(dir, c)));
      if (c.realtimeRuntime || c.realtimePeriod) problem('cpu.realtimeRuntime and cpu.realtimePeriod not applied: cgroup v2 has no real-time bandwidth', 'missing');
      if (c.cpus) attempt(() => writeFile(dir, 'cpuset.cpus', c.cpus!));
      if (c.mems) attempt(() => writeFile(dir, 'cpuset.mems', c.mems!));
    }
    const pidsLimit = limits.pids?.limit;
    if (pidsLimit) attempt(() => writeFile(path.join(dir, V2_GUEST_LEAF), 'pids.max', unlimitedAsMax(pidsLimit)));
    // Not written on v2 yet (no v2 host to compare with runc here): io.*, hugetlb.*.max, a device eBPF program.
    const other = (['blockIO', 'hugepageLimits', 'network'] as const).filter((k) => asksForSomething(limits[k]));
    for (const k of other) problem(`${k} not applied: tsvisor sets it on cgroup v1 only`, 'missing');
    if (limits.devices?.length) problem('the device rules are not applied: tsvisor sets them on cgroup v1 only (v2 needs a device eBPF program)', 'missing');
  }

  /** Moves process `pid` (all its threads) into the cgroups of the whole sandbox. */
  joinSandbox(pid: number): string[] {
    return this.#join(pid, V1_SANDBOX, V2_SANDBOX_LEAF);
  }

  /**
   * Moves process `pid` back into the cgroups it was in (`before`: its
   * /proc/PID/cgroup then), out of every one joinSandbox moved it to, so that
   * they can be removed while it lives on (`run` deletes its own container).
   */
  leaveSandbox(pid: number, before: string): string[] {
    return this.#leave(pid, before, V1_SANDBOX);
  }

  /**
   * Moves the anchor into the guests' v1 cgroups other than the freezer
   * (pids, devices): containerd's shim and runtime-tools read the
   * container's cgroups from /proc/PID/cgroup of the pid create reports,
   * and the shim keeps the paths it read at create (docker stats). Returns
   * the anchor's /proc/PID/cgroup from before, for anchorStarted.
   */
  joinAnchor(pid: number): { before: string; warnings: string[] } {
    const before = readFile(`/proc/${pid}`, 'cgroup') ?? '';
    return { before, warnings: this.#paths.version === 1 ? this.#join(pid, V1_ANCHOR, '') : [] };
  }

  /** At start the anchor leaves the pids cgroup again, so that pids.current counts guest processes only (as runc's counts the container's). */
  anchorStarted(pid: number, before: string): string[] {
    return this.#paths.version === 1 ? this.#leave(pid, before, ['pids']) : [];
  }

  #leave(pid: number, before: string, v1: readonly V1Controller[]): string[] {
    const p = this.#paths;
    const lines = before
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [, ctrls = '', rel = '/'] = l.split(':');
        return { ctrls: ctrls.split(','), rel };
      });
    const targets = new Set<string>();
    if (p.version === 2) {
      const l = lines.find((x) => x.ctrls.length === 1 && x.ctrls[0] === '');
      if (l) targets.add(path.join(hierarchyRoot(p.dir), l.rel));
    } else {
      for (const c of v1) {
        const dir = p.dirs[c];
        const l = lines.find((x) => x.ctrls.includes(c));
        if (dir && l) targets.add(path.join(hierarchyRoot(dir), l.rel));
      }
    }
    const warnings: string[] = [];
    for (const dir of targets) {
      try {
        writeFile(dir, 'cgroup.procs', String(pid));
      } catch (e) {
        warnings.push((e as Error).message);
      }
    }
    return warnings;
  }

  /** Moves a guest process into the guests' cgroups (pids, freezer and devices on v1, the guest leaf on v2). */
  joinGuest(pid: number): string[] {
    return this.#join(pid, V1_GUEST, V2_GUEST_LEAF);
  }

  /**
   * v1: the container's directory in each hierarchy, the name runc mounts it
   * under in the container (the hierarchy's mount point's, "memory") and its
   * controllers. Empty on v2.
   */
  v1Views(): { name: string; dir: string; controllers: string }[] {
    const p = this.#paths;
    if (p.version === 2) return [];
    const byDir = new Map<string, V1Controller[]>();
    for (const c of V1_CONTROLLERS) {
      const dir = p.dirs[c];
      if (dir !== undefined) byDir.set(dir, [...(byDir.get(dir) ?? []), c]);
    }
    return [...byDir].map(([dir, cs]) => ({ name: path.basename(hierarchyRoot(dir)), dir, controllers: cs.join(',') }));
  }

  /** Whether the memory cgroup is in use (the sandbox then protects itself from its OOM killer). */
  get hasMemory(): boolean {
    return this.#paths.version === 2 || this.#v1('memory') !== undefined;
  }

  /** A failure is a warning; the directory stays recorded, so that delete still removes it. */
  #join(pid: number, v1: readonly V1Controller[], leaf: string): string[] {
    const p = this.#paths;
    const dirs = p.version === 2 ? [path.join(p.dir, leaf)] : [...new Set(v1.map((c) => p.dirs[c]).filter((d) => d !== undefined))];
    const warnings: string[] = [];
    for (const dir of dirs) {
      try {
        writeFile(dir, 'cgroup.procs', String(pid));
      } catch (e) {
        warnings.push((e as Error).message);
      }
    }
    return warnings;
  }

  /** The directory (v1) or leaf (v2) whose processes pause and resume freeze. */
  #freezer(): { dir: string; v2: boolean } {
    const p = this.#paths;
    if (p.version === 2) return { dir: path.join(p.dir, V2_GUEST_LEAF), v2: true };
    if (!p.dirs.freezer) throw new CgroupError('the container has no freezer cgroup (see the warnings of its create in the log)');
    return { dir: p.dirs.freezer, v2: false };
  }

  /** Freezes the guest processes and waits until the kernel reports them frozen; thaws again and throws if it does not happen. */
  async freeze(timeoutMs = 5000): Promise<void> {
    const { dir, v2 } = this.#freezer();
    // Freezing an empty cgroup "succeeds": refuse rather than report a pause that stops nothing.
    if (!readFile(dir, 'cgroup.procs')) throw new CgroupError(`no process of the container is in its freezer cgroup ${dir} (see the log of its create)`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // v1 retries a freeze that stopped at FREEZING when the same value is written again.
      writeFile(dir, v2 ? 'cgroup.freeze' : 'freezer.state', v2 ? '1' : 'FROZEN');
      const frozen = v2 ? /^frozen 1$/m.test(readFile(dir, 'cgroup.events') ?? '') : readFile(dir, 'freezer.state') === 'FROZEN';
      if (frozen) return;
      if (Date.now() > deadline) {
        this.thaw();
        throw new CgroupError(`the container's processes did not freeze within ${timeoutMs} ms`);
      }
      await sleep(10);
    }
  }

  thaw(): void {
    const { dir, v2 } = this.#freezer();
    writeFile(dir, v2 ? 'cgroup.freeze' : 'freezer.state', v2 ? '0' : 'THAWED');
  }

  /** How many times the OOM killer has killed a process of the container. */
  oomKills(): number {
    const p = this.#paths;
    if (p.version === 2) return Number(readKeyed(p.dir, 'memory.events').oom_kill ?? 0n);
    const dir = p.dirs.memory;
    return dir ? Number(readKeyed(dir, 'memory.oom_control').oom_kill ?? 0n) : 0;
  }

  /** The stats `events` prints, shaped like runc's (fields that are zero left out where runc leaves them out). */
  stats(): Record<string, unknown> {
    const p = this.#paths;
    const stats = p.version === 1 ? v1Stats(p.dirs) : v2Stats(p.dir);
    return { ...stats, blkio: {}, hugetlb: {}, intel_rdt: {}, network_interfaces: null };
  }

  /** The container's directories, in the order they are removed (v2: the leaves first); never a hierarchy's root. */
  removableDirs(): string[] {
    const p = this.#paths;
    const dirs = p.version === 2 ? [path.join(p.dir, V2_GUEST_LEAF), path.join(p.dir, V2_SANDBOX_LEAF), p.dir] : [...new Set(Object.values(p.dirs))];
    return dirs.filter((d) => !isHierarchyRoot(d));
  }

  /**
   * The metrics containerd's runc shim reports for a task on cgroup v1
   * (message io.containerd.cgroups.v1.Metrics, .proto field names), read
   * from the same files as containerd's cgroups library reads them: pids,
   * cpu and cpuacct, memory (memory.stat and the usage files), blkio,
   * hugetlb. Numbers are bigints. Cgroup v2 has a message of its own
   * (io.containerd.cgroups.v2.Metrics), not served yet.
   */
  metrics(): Record<string, unknown> {
    const p = this.#paths;
    if (p.version !== 1) throw new CgroupError('metrics of a cgroup v2 container are not supported yet');
    const { pids, cpu, cpuacct, memory, blkio, hugetlb } = p.dirs;
    const out: Record<string, unknown> = {};
    if (pids) out.pids = { current: readInt(pids, 'pids.current') ?? 0n, limit: readInt(pids, 'pids.max') ?? 0n };
    if (cpu || cpuacct) {
      const ticks = cpuacct ? readKeyed(cpuacct, 'cpuacct.stat') : {};
      const stat = cpu ? readKeyed(cpu, 'cpu.stat') : {};
      out.cpu = {
        usage: {
          total: (cpuacct && readInt(cpuacct, 'cpuacct.usage')) ?? 0n,
          kernel: (ticks.system ?? 0n) * NS_PER_TICK,
          user: (ticks.user ?? 0n) * NS_PER_TICK,
          per_cpu: cpuacct ? numbers(cpuacct, 'cpuacct.usage_percpu') : [],
        },
        throttling: { periods: stat.nr_periods ?? 0n, throttled_periods: stat.nr_throttled ?? 0n, throttled_time: stat.throttled_time ?? 0n },
      };
    }
    if (memory) {
      const raw = readKeyed(memory, 'memory.stat');
      const fields = Object.fromEntries(Object.entries(MEMORY_STAT_FIELDS).map(([field, key]) => [field, raw[key] ?? 0n]));
      const entry = (prefix: string) => memoryEntry(memory, prefix);
      out.memory = { ...fields, usage: entry('memory'), swap: entry('memory.memsw'), kernel: entry('memory.kmem'), kernel_tcp: entry('memory.kmem.tcp') };
      const oom = readKeyed(memory, 'memory.oom_control');
      out.memory_oom_control = { oom_kill_disable: oom.oom_kill_disable ?? 0n, under_oom: oom.under_oom ?? 0n, oom_kill: oom.oom_kill ?? 0n };
    }
    if (blkio) out.blkio = blkioMetrics(blkio);
    if (hugetlb) out.hugetlb = hugetlbMetrics(hugetlb);
    return out;
  }

  /**
   * Removes the container's directories (v2: the leaves first), thawing
   * first so that nothing stays frozen. Retries while the last processes
   * are still leaving; returns what could not be removed. Never removes a
   * hierarchy's root.
   */
  async remove(timeoutMs = 5000): Promise<string[]> {
    try {
      this.thaw();
    } catch {
      /* no freezer, or already gone */
    }
    const problems: string[] = [];
    for (const dir of this.removableDirs()) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          fs.rmdirSync(dir);
          break;
        } catch (e) {
          const code = errnoCode(e);
          if (code === 'ENOENT') break;
          if (code === 'EBUSY' && Date.now() < deadline) {
            await sleep(20);
            continue;
          }
          problems.push(`cannot remove the cgroup ${dir}: ${why(e)}`);
          break;
        }
      }
    }
    return problems;
  }
}

/** The root of the cgroup hierarchy `dir` is in. */
function hierarchyRoot(dir: string): string {
  let d = dir;
  while (!isHierarchyRoot(d) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

/** A cgroup file system's root: its parent is on another file system. */
function isHierarchyRoot(dir: string): boolean {
  try {
    return fs.statSync(dir).dev !== fs.statSync(path.dirname(dir)).dev;
  } catch {
    return false;
  }
}

/** mkdir -p for a v1 cpuset directory, giving each new or empty level its parent's cpus and mems. */
function makeCpuset(dir: string): void {
  const parent = path.dirname(dir);
  if (!fs.existsSync(parent)) makeCpuset(parent);
  if (!fs.existsSync(dir)) fs.mkdirSync(dir);
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    if (readFile(dir, file) === '') {
      const inherited = readFile(parent, file);
      if (inherited) writeFile(dir, file, inherited);
    }
  }
}

/**
 * Makes the v2 cgroup `dir`, enabling our controllers in the subtree_control
 * of every level above it (from the hierarchy's root down) and the pids
 * controller in `dir` itself, for the guest leaf's pids.max. A controller a
 * level cannot delegate (a level with processes of its own, say) is a warning.
 */
function enableV2Controllers(mount: string, dir: string, warnings: string[]): void {
  const levels: string[] = [];
  for (let d = dir; d !== mount && d.startsWith(`${mount}/`); d = path.dirname(d)) levels.unshift(d);
  // One write per controller, so that one the level cannot delegate does not
  // stop the others; enabling one that is enabled already changes nothing.
  const enable = (at: string, controllers: string[]) => {
    const available = (readFile(at, 'cgroup.controllers') ?? '').split(' ');
    for (const c of controllers) {
      if (!available.includes(c)) continue;
      try {
        writeFile(at, 'cgroup.subtree_control', `+${c}`);
      } catch (e) {
        warnings.push(`cannot enable the ${c} controller below ${at}: ${(e as Error).message}`);
      }
    }
  };
  let parent = mount;
  for (const level of levels) {
    enable(parent, V2_CONTROLLERS);
    if (!fs.existsSync(level)) fs.mkdirSync(level);
    parent = level;
  }
  enable(dir, ['pids']);
}

function applyV1Memory(dir: string, m: MemoryLimits, problem: Problem): void {
  const hasSwap = fs.existsSync(path.join(dir, 'memory.memsw.limit_in_bytes'));
  const limit = m.limit || undefined;
  let swap = m.swap || undefined;
  if (swap !== undefined && !hasSwap) {
    problem('memory.swap not applied: the kernel does not account swap (no memory.memsw.limit_in_bytes)', 'missing');
    swap = undefined;
  }
  // The kernel keeps limit <= memory+swap at every step: raise memory+swap
  // first when the new limit would pass its current value, else set the limit first.
  const writeLimit = () => {
    if (limit !== undefined) writeFile(dir, 'memory.limit_in_bytes', unlimitedAsMinusOne(limit));
  };
  const writeSwap = () => {
    if (swap !== undefined) writeFile(dir, 'memory.memsw.limit_in_bytes', unlimitedAsMinusOne(swap));
  };
  const swapFirst =
    swap !== undefined && (swap < 0 || (limit !== undefined && (limit < 0 || BigInt(limit) > (readInt(dir, 'memory.memsw.limit_in_bytes') ?? 0n))));
  if (swapFirst) {
    writeSwap();
    writeLimit();
  } else {
    writeLimit();
    writeSwap();
  }
  if (m.reservation) writeFile(dir, 'memory.soft_limit_in_bytes', unlimitedAsMinusOne(m.reservation));
  // runc 1.1.5 writes neither (Linux 6.x ignores kmem.limit_in_bytes) and only warns.
  if (m.kernel || m.kernelTCP) problem('memory.kernel and memory.kernelTCP are not applied (nor by runc 1.1.5: "Kernel memory settings are ignored")', 'soft');
  if (m.swappiness !== undefined) writeFile(dir, 'memory.swappiness', String(m.swappiness));
  if (m.disableOOMKiller) writeFile(dir, 'memory.oom_control', '1');
}

/** runc's order: the weights, then the four throttles; a device the kernel does not know fails the write (ENODEV). */
function applyV1BlockIO(dir: string, b: BlockIoLimits): void {
  // Without CFQ the weights are BFQ's, when the kernel has BFQ.
  const cfq = fs.existsSync(path.join(dir, 'blkio.weight'));
  const [weightFile, weightDeviceFile] = cfq ? ['blkio.weight', 'blkio.weight_device'] : ['blkio.bfq.weight', 'blkio.bfq.weight_device'];
  if (b.weight) writeFile(dir, weightFile, String(b.weight));
  if (b.leafWeight) writeFile(dir, 'blkio.leaf_weight', String(b.leafWeight));
  for (const d of b.weightDevice ?? []) {
    if (d.weight) writeFile(dir, weightDeviceFile, `${d.major}:${d.minor} ${d.weight}`);
    if (d.leafWeight) writeFile(dir, 'blkio.leaf_weight_device', `${d.major}:${d.minor} ${d.leafWeight}`);
  }
  for (const [key, file] of [
    ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
    ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
    ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
    ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
  ] as const) {
    for (const t of b[key] ?? []) writeFile(dir, file, `${t.major}:${t.minor} ${t.rate}`);
  }
}

/** The device rules as runc 1.1.5 writes them (cgroup-devices.ts), checked against devices.list after. */
function applyV1Devices(dir: string, rules: DeviceRule[]): void {
  let plan: ReturnType<typeof deviceTransition>;
  try {
    plan = deviceTransition(readFile(dir, 'devices.list') ?? '', rules);
  } catch (e) {
    throw new CgroupError((e as Error).message);
  }
  for (const [file, line] of plan.writes) writeFile(dir, file, line);
  if (!deviceListMatches(plan.target, readFile(dir, 'devices.list') ?? '')) throw new CgroupError(`the devices cgroup ${dir} does not hold the rules written to it`);
}

function applyV1Cpu(dir: string, c: CpuLimits): void {
  if (c.shares) writeFile(dir, 'cpu.shares', String(c.shares));
  if (c.period) writeFile(dir, 'cpu.cfs_period_us', String(c.period));
  if (c.quota) writeFile(dir, 'cpu.cfs_quota_us', unlimitedAsMinusOne(c.quota));
  // The real-time runtime may never exceed its period: shrink the runtime
  // before the period when the period goes below it.
  const runtime = c.realtimeRuntime ? () => writeFile(dir, 'cpu.rt_runtime_us', unlimitedAsMinusOne(c.realtimeRuntime!)) : () => {};
  const period = c.realtimePeriod ? () => writeFile(dir, 'cpu.rt_period_us', String(c.realtimePeriod)) : () => {};
  const currentRuntime = readInt(dir, 'cpu.rt_runtime_us') ?? 0n;
  if (c.realtimePeriod && BigInt(c.realtimePeriod) < currentRuntime) {
    runtime();
    period();
  } else {
    period();
    runtime();
  }
}

/** memory.swap.max counts swap alone; OCI's swap is memory plus swap. */
function v2SwapMax(dir: string, m: MemoryLimits): string {
  const swap = m.swap!;
  if (swap < 0) return 'max';
  const limit = m.limit ?? Number(readInt(dir, 'memory.max', -1n) ?? -1n);
  if (limit <= 0) throw new CgroupError('memory.swap needs memory.limit on cgroup v2 (swap.max is counted apart from memory)');
  if (swap < limit) throw new CgroupError(`memory.swap ${swap} is below memory.limit ${limit}: it counts memory plus swap`);
  return String(swap - limit);
}

/** cpu.max is "QUOTA PERIOD": a field not being changed keeps its current value. */
function v2CpuMax(dir: string, c: CpuLimits): string {
  const [curQuota = 'max', curPeriod = '100000'] = (readFile(dir, 'cpu.max') ?? '').split(' ');
  const quota = c.quota ? unlimitedAsMax(c.quota) : curQuota;
  return `${quota} ${c.period || curPeriod}`;
}

// ---- stats ----------------------------------------------------------------------------

/** Drops fields that are zero, empty or missing (Go's omitempty, which runc uses for these). */
function omitEmpty(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== 0n && !(Array.isArray(v) && v.length === 0)));
}

function numbers(dir: string, file: string): bigint[] {
  return (readFile(dir, file) ?? '')
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map((s) => BigInt(s));
}

/** "0-2,5" as [0, 1, 2, 5]. */
export function expandCpuList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    for (let i = Number(m[1]); i <= Number(m[2] ?? m[1]); i++) out.push(i);
  }
  return out;
}

function memoryEntry(dir: string, prefix: string, withUsage = true): Record<string, unknown> {
  return {
    limit: readInt(dir, `${prefix}.limit_in_bytes`) ?? 0n,
    ...omitEmpty({ usage: withUsage ? readInt(dir, `${prefix}.usage_in_bytes`) : undefined, max: withUsage ? readInt(dir, `${prefix}.max_usage_in_bytes`) : undefined }),
    failcnt: readInt(dir, `${prefix}.failcnt`) ?? 0n,
  };
}

const NS_PER_TICK = BigInt(1e9 / USER_HZ);

function v1Stats(dirs: Partial<Record<V1Controller, string>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const acct = dirs.cpuacct;
  const ticks = acct ? readKeyed(acct, 'cpuacct.stat') : {};
  out.cpu = {
    usage: {
      total: (acct && readInt(acct, 'cpuacct.usage')) ?? 0n,
      ...omitEmpty({
        percpu: acct ? numbers(acct, 'cpuacct.usage_percpu') : [],
        percpu_kernel: acct ? numbers(acct, 'cpuacct.usage_percpu_sys') : [],
        percpu_user: acct ? numbers(acct, 'cpuacct.usage_percpu_user') : [],
      }),
      kernel: (ticks.system ?? 0n) * NS_PER_TICK,
      user: (ticks.user ?? 0n) * NS_PER_TICK,
    },
    throttling: throttling(dirs.cpu ? readKeyed(dirs.cpu, 'cpu.stat') : {}),
  };
  const cs = dirs.cpuset;
  if (cs) {
    const flag = (f: string) => Number(readInt(cs, `cpuset.${f}`) ?? 0n);
    out.cpuset = {
      cpus: expandCpuList(readFile(cs, 'cpuset.cpus') ?? ''),
      cpu_exclusive: flag('cpu_exclusive'),
      mems: expandCpuList(readFile(cs, 'cpuset.mems') ?? ''),
      mem_hardwall: flag('mem_hardwall'),
      mem_exclusive: flag('mem_exclusive'),
      memory_migrate: flag('memory_migrate'),
      memory_spread_page: flag('memory_spread_page'),
      memory_spread_slab: flag('memory_spread_slab'),
      memory_pressure: flag('memory_pressure'),
      sched_load_balance: flag('sched_load_balance'),
      sched_relax_domain_level: Number(readFile(cs, 'cpuset.sched_relax_domain_level') ?? -1),
    };
  }
  const mem = dirs.memory;
  if (mem) {
    const raw = readKeyed(mem, 'memory.stat');
    out.memory = {
      ...omitEmpty({ cache: raw.total_cache ?? raw.cache }),
      usage: memoryEntry(mem, 'memory'),
      swap: memoryEntry(mem, 'memory.memsw'),
      kernel: memoryEntry(mem, 'memory.kmem'),
      kernelTCP: memoryEntry(mem, 'memory.kmem.tcp', false),
      raw,
    };
  } else {
    out.memory = {};
  }
  out.pids = dirs.pids ? omitEmpty({ current: readInt(dirs.pids, 'pids.current'), limit: readInt(dirs.pids, 'pids.max') }) : {};
  return out;
}

/** containerd's MemoryStat fields and the memory.stat keys they are read from; each also as total_ (the hierarchy's). */
const MEMORY_STAT_KEYS: [string, string][] = [
  ['cache', 'cache'],
  ['rss', 'rss'],
  ['rss_huge', 'rss_huge'],
  ['mapped_file', 'mapped_file'],
  ['dirty', 'dirty'],
  ['writeback', 'writeback'],
  ['pg_pg_in', 'pgpgin'],
  ['pg_pg_out', 'pgpgout'],
  ['pg_fault', 'pgfault'],
  ['pg_maj_fault', 'pgmajfault'],
  ['inactive_anon', 'inactive_anon'],
  ['active_anon', 'active_anon'],
  ['inactive_file', 'inactive_file'],
  ['active_file', 'active_file'],
  ['unevictable', 'unevictable'],
];
const MEMORY_STAT_FIELDS: Record<string, string> = Object.fromEntries([
  ...MEMORY_STAT_KEYS,
  ['hierarchical_memory_limit', 'hierarchical_memory_limit'],
  ['hierarchical_swap_limit', 'hierarchical_memsw_limit'],
  ...MEMORY_STAT_KEYS.map(([field, key]) => [`total_${field}`, `total_${key}`]),
]);

/** Block devices by "major:minor", as /dev/NAME (the first of /proc/partitions's names). */
function partitions(): Map<string, string> {
  const out = new Map<string, string>();
  let text = '';
  try {
    text = fs.readFileSync('/proc/partitions', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n').slice(2)) {
    const f = line.trim().split(/\s+/);
    if (f.length === 4 && !out.has(`${f[0]}:${f[1]}`)) out.set(`${f[0]}:${f[1]}`, `/dev/${f[3]}`);
  }
  return out;
}

/** "MAJ:MIN [Op] value" lines of a blkio file (the Total line left out) as BlkIOEntry messages. */
function blkioEntries(dir: string, file: string, devices: Map<string, string>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of (readFile(dir, file) ?? '').split('\n')) {
    const m = /^(\d+):(\d+)\s+(?:(\S+)\s+)?(\d+)$/.exec(line.trim());
    if (m) out.push({ op: m[3] ?? '', device: devices.get(`${m[1]}:${m[2]}`) ?? '', major: BigInt(m[1]!), minor: BigInt(m[2]!), value: BigInt(m[4]!) });
  }
  return out;
}

/**
 * The blkio counters as containerd reads them: the CFQ files when the
 * kernel has them and they count anything, else the throttling layer's.
 */
function blkioMetrics(dir: string): Record<string, unknown> {
  const devices = partitions();
  const cfq = {
    sectors_recursive: 'sectors_recursive',
    io_service_bytes_recursive: 'io_service_bytes_recursive',
    io_serviced_recursive: 'io_serviced_recursive',
    io_queued_recursive: 'io_queued_recursive',
    io_service_time_recursive: 'io_service_time_recursive',
    io_wait_time_recursive: 'io_wait_time_recursive',
    io_merged_recursive: 'io_merged_recursive',
    io_time_recursive: 'time_recursive',
  };
  if (fs.existsSync(path.join(dir, 'blkio.io_serviced_recursive'))) {
    const out = Object.fromEntries(Object.entries(cfq).map(([field, file]) => [field, blkioEntries(dir, `blkio.${file}`, devices)]));
    if (Object.values(out).some((l) => l.length > 0)) return out;
  }
  return { io_serviced_recursive: blkioEntries(dir, 'blkio.throttle.io_serviced', devices), io_service_bytes_recursive: blkioEntries(dir, 'blkio.throttle.io_service_bytes', devices) };
}

/** One HugetlbStat per page size the hugetlb cgroup has files for. */
function hugetlbMetrics(dir: string): Record<string, unknown>[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => /^hugetlb\.([^.]+)\.usage_in_bytes$/.exec(n)?.[1])
    .filter((s): s is string => s !== undefined)
    .map((size) => ({
      pagesize: size,
      usage: readInt(dir, `hugetlb.${size}.usage_in_bytes`) ?? 0n,
      max: readInt(dir, `hugetlb.${size}.max_usage_in_bytes`) ?? 0n,
      failcnt: readInt(dir, `hugetlb.${size}.failcnt`) ?? 0n,
    }));
}

/** cpu.stat's throttling counters, time in nanoseconds (v2 counts microseconds). */
function throttling(stat: Record<string, bigint>): Record<string, unknown> {
  const time = stat.throttled_time ?? (stat.throttled_usec !== undefined ? stat.throttled_usec * 1000n : undefined);
  return omitEmpty({ periods: stat.nr_periods, throttled_periods: stat.nr_throttled, throttled_time: time });
}

function v2Stats(dir: string): Record<string, unknown> {
  const cpu = readKeyed(dir, 'cpu.stat');
  const guest = path.join(dir, V2_GUEST_LEAF);
  const raw = readKeyed(dir, 'memory.stat');
  const usage = readInt(dir, 'memory.current') ?? 0n;
  const limit = readInt(dir, 'memory.max', UINT64_MAX) ?? UINT64_MAX;
  const swapUsage = readInt(dir, 'memory.swap.current');
  const swapLimit = readInt(dir, 'memory.swap.max', UINT64_MAX);
  const cpus = readFile(dir, 'cpuset.cpus.effective');
  const mems = readFile(dir, 'cpuset.mems.effective');
  return {
    cpu: {
      usage: { total: (cpu.usage_usec ?? 0n) * 1000n, kernel: (cpu.system_usec ?? 0n) * 1000n, user: (cpu.user_usec ?? 0n) * 1000n },
      throttling: throttling(cpu),
    },
    ...(cpus !== undefined ? { cpuset: { cpus: expandCpuList(cpus), mems: expandCpuList(mems ?? '') } } : {}),
    memory: {
      ...omitEmpty({ cache: raw.file }),
      usage: { limit, ...omitEmpty({ usage, max: readInt(dir, 'memory.peak') }), failcnt: readKeyed(dir, 'memory.events').max ?? 0n },
      // As v1 reports it: memory plus swap.
      swap: {
        limit: swapLimit === undefined || swapLimit === UINT64_MAX || limit === UINT64_MAX ? UINT64_MAX : swapLimit + limit,
        ...omitEmpty({ usage: swapUsage === undefined ? undefined : swapUsage + usage }),
        failcnt: 0n,
      },
      raw,
    },
    pids: omitEmpty({ current: readInt(guest, 'pids.current'), limit: readInt(guest, 'pids.max') }),
  };
}

// ---- the sandbox process's side ----------------------------------------------------------

/** What `tsvisor boot` set up, and how it places each guest process. */
export interface SandboxCgroups {
  /** undefined when the host has no cgroup file system */
  cgroups: ContainerCgroups | undefined;
  /** for the log (the logger does not exist yet when the cgroups are made) */
  warnings: string[];
  /** the oom_score_adj guest processes must have (undefined: leave it to the spec) */
  guestOomScoreAdj: number | undefined;
  /**
   * Moves the sandbox process and its helpers into the sandbox's cgroups;
   * returns warnings. Called just before the first guest process is
   * started, whose addGuest then follows within a few ms: on cgroup v1 the
   * first of a burst of moves waits for an RCU grace period (the
   * threadgroup rwsem's writer side: 6-15 ms here), and a burst that comes
   * later waits for another.
   */
  join(): string[];
  /** Moves a guest process where guests go, with the guests' oom_score_adj; returns warnings. */
  addGuest(pid: number): string[];
  /** Moves the sandbox process (or `pid`, a helper that came from the same cgroups) back where it was before it joined; returns warnings. */
  leave(pid?: number): string[];
  /** Moves the anchor into the container's cgroups as well (ContainerCgroups.joinAnchor); returns warnings. */
  joinAnchor(pid: number): string[];
  /** At start: the anchor leaves the pids cgroup (ContainerCgroups.anchorStarted); returns warnings. */
  anchorStarted(): string[];
}

function setOomScoreAdj(pid: number | 'self', value: number): void {
  fs.writeFileSync(`/proc/${pid}/oom_score_adj`, String(value));
}

/**
 * Run by the sandbox process as it sets the container up: makes the
 * container's cgroups and applies the limits; join() then moves it and its
 * helpers there before the first guest starts, so that the Gofer and the
 * guests, the Sentry's children, are charged there too (what they allocated
 * before stays charged where they were, as the Sentry's modules).
 *
 * With a memory limit, the container's OOM killer must take a guest
 * process, as under runc, never the Sentry or the Gofer (the largest
 * processes there). (A limit set later by `update` finds the scores as
 * they are.) The sandbox process exempts itself and its helpers
 * (`helpers`: the Gofer, started before this, and the anchor's keeper,
 * whose clone the anchor will be) with oom_score_adj -1000 and guests keep `specOomScoreAdj` (else the value
 * the sandbox process started with). Lowering a score needs
 * CAP_SYS_RESOURCE; without it the guests get the highest score, 1000,
 * instead, which makes the OOM killer prefer any of them.
 */
export function enterSandboxCgroups(
  paths: CgroupPaths | undefined,
  resources: unknown,
  devicePaths: string[],
  specOomScoreAdj: number | undefined,
  helpers: number[],
): SandboxCgroups {
  const warnings: string[] = [];
  const parsed: { limits: ResourceLimits; ignored: string[] } = resources === undefined ? { limits: {}, ignored: [] } : parseResources(resources);
  for (const what of parsed.ignored) warnings.push(`${what} is not applied by tsvisor`);
  if (!paths) {
    if (asksForSomething(parsed.limits)) warnings.push('linux.resources not applied: the host has no cgroup file system');
    return { cgroups: undefined, warnings, guestOomScoreAdj: undefined, join: () => [], addGuest: () => [], leave: () => [], joinAnchor: () => [], anchorStarted: () => [] };
  }
  // runc sets its default device rules after the spec's, whatever the spec asks (v1).
  if (paths.version === 1) parsed.limits.devices = containerDeviceRules(parsed.limits.devices ?? [], devicePaths);
  const cgroups = new ContainerCgroups(paths);
  warnings.push(...cgroups.create());
  // Without any cgroup this still says, limit by limit, what is not applied.
  warnings.push(...cgroups.apply(parsed.limits, 'create'));
  const before = fs.readFileSync('/proc/self/cgroup', 'utf8');
  let guestAdj: number | undefined;
  let anchor: { pid: number; before: string } | undefined;
  const memoryLimited = [parsed.limits.memory?.limit, parsed.limits.memory?.swap].some((v) => v !== undefined && v > 0);
  if (cgroups.usable && cgroups.hasMemory && memoryLimited) {
    const own = Number(fs.readFileSync('/proc/self/oom_score_adj', 'utf8'));
    try {
      setOomScoreAdj('self', OOM_SCORE_ADJ_MIN);
      for (const pid of helpers) setOomScoreAdj(pid, OOM_SCORE_ADJ_MIN);
      guestAdj = specOomScoreAdj ?? own;
    } catch (e) {
      if (errnoCode(e) !== 'EACCES') throw e;
      guestAdj = OOM_SCORE_ADJ_MAX;
      warnings.push(`the sandbox cannot exempt itself from the OOM killer (no CAP_SYS_RESOURCE): guest processes get oom_score_adj ${OOM_SCORE_ADJ_MAX} instead`);
    }
  }
  return {
    cgroups,
    warnings,
    guestOomScoreAdj: guestAdj,
    join: () => (cgroups.usable ? [process.pid, ...helpers].flatMap((pid) => cgroups.joinSandbox(pid)) : []),
    addGuest(pid) {
      const out = cgroups.usable ? cgroups.joinGuest(pid) : [];
      if (guestAdj !== undefined) {
        try {
          setOomScoreAdj(pid, guestAdj);
        } catch (e) {
          out.push(`cannot set the oom_score_adj of guest process ${pid}: ${why(e)}`);
        }
      }
      return out;
    },
    leave: (pid = process.pid) => (cgroups.usable ? cgroups.leaveSandbox(pid, before) : []),
    joinAnchor(pid) {
      if (!cgroups.usable) return [];
      const joined = cgroups.joinAnchor(pid);
      anchor = { pid, before: joined.before };
      return joined.warnings;
    },
    anchorStarted: () => (anchor ? cgroups.anchorStarted(anchor.pid, anchor.before) : []),
  };
}

/** The cgroups recorded for a container (pause, resume, update, events); throws when it has none. */
export function containerCgroups(state: { id: string; cgroups?: CgroupPaths }): ContainerCgroups {
  if (!state.cgroups) throw new CgroupError(`container ${JSON.stringify(state.id)} has no cgroups: the host had no cgroup file system at its create`);
  return new ContainerCgroups(state.cgroups);
}

/**
 * At create: refuses --systemd-cgroup (tsvisor has only the cgroupfs
 * manager; runc's words when systemd is absent), validates linux.resources
 * and resolves the cgroup directories. The result goes into the
 * container's first state.
 */
export function planContainerCgroups(systemdCgroup: boolean, config: { resources?: unknown; cgroupsPath?: string }, id: string): { cgroups?: CgroupPaths; resources?: ResourceLimits } {
  if (systemdCgroup) {
    throw new RuntimeError(systemdRunning() ? 'tsvisor has no systemd cgroup manager: run it without --systemd-cgroup' : 'systemd not running on this host, cannot use systemd cgroups manager');
  }
  let resources: ResourceLimits | undefined;
  try {
    resources = config.resources === undefined ? undefined : parseResources(config.resources).limits;
  } catch (e) {
    if (e instanceof SpecError) throw new SpecError(`config.json: ${e.message}`);
    throw e;
  }
  const cgroups = resolveCgroupPaths(readCgroupHost(), config.cgroupsPath, id);
  return { ...(cgroups ? { cgroups } : {}), ...(resources ? { resources } : {}) };
}

/** Removes a container's cgroups, if it has any; returns what could not be removed. */
export function removeContainerCgroups(paths: CgroupPaths | undefined): Promise<string[]> {
  return paths ? new ContainerCgroups(paths).remove() : Promise.resolve([]);
}
