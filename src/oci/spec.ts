// The OCI runtime spec (config.json of a bundle): parsed, validated and
// typed, then mapped onto the Sentry's own SandboxSpec. Docker, containerd
// and podman hand us config.json through `tsvisor create --bundle B`; every
// field we act on is checked here so a hostile or broken spec fails with a
// message naming the field instead of surprising the Sentry later.
//
// Unknown properties are ignored, as the OCI spec requires of runtimes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PTS_MAJOR_FIRST, PTS_MAJOR_LAST, SECCOMP_RET_DATA, makedev } from '../abi/linux.js';
import type { Capabilities, MountSpec, SandboxSpec } from '../sentry/spec.js';

/** A config.json (or process.json) that tsvisor cannot run; the message is for the user. */
export class SpecError extends Error {
  override name = 'SpecError';
}

export interface Hook {
  /** absolute host path of the program */
  path: string;
  /** argv, including argv[0] */
  args?: string[];
  env?: string[];
  /** seconds */
  timeout?: number;
}

export interface Hooks {
  prestart: Hook[];
  createRuntime: Hook[];
  createContainer: Hook[];
  startContainer: Hook[];
  poststart: Hook[];
  poststop: Hook[];
}

export interface Rlimit {
  /** RLIMIT_* name as written in the spec */
  type: string;
  /** the resource's number (RLIMIT_NOFILE = 7, ...) */
  resource: number;
  /** a value >= 2^63 means unlimited (see isUnlimited) */
  soft: number;
  hard: number;
}

export type { Capabilities };

export interface ProcessConfig {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  umask?: number;
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  rlimits: Rlimit[];
  capabilities: Capabilities;
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
}

export interface MountConfig {
  /** normalised absolute path in the container */
  destination: string;
  /** as written; 'none' when the spec leaves it out */
  type: string;
  /** for bind mounts: the absolute host path (relative ones are resolved against the bundle) */
  source?: string;
  options: string[];
}

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export interface Namespace {
  type: NamespaceType;
  /** join this namespace (a host path such as /proc/PID/ns/net) rather than make a new one */
  path?: string;
}

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface DeviceConfig {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface ContainerConfig {
  ociVersion: string;
  root: { path: string; readonly: boolean };
  process: ProcessConfig;
  hostname?: string;
  domainname?: string;
  mounts: MountConfig[];
  hooks: Hooks;
  namespaces: Namespace[];
  /** the path of a `network` namespace entry that has one */
  netnsPath?: string;
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  sysctl: Record<string, string>;
  /** linux.resources, kept as written (memory, cpu, pids, devices, ...) */
  resources?: Record<string, unknown>;
  maskedPaths: string[];
  readonlyPaths: string[];
  /** linux.seccomp, validated; absent also when it has no default action and no syscalls (runc's "disabled") */
  seccomp?: LinuxSeccomp;
  devices: DeviceConfig[];
  annotations: Record<string, string>;
  cgroupsPath?: string;
}

/** Capability names by number (linux/capability.h, up to CAP_LAST_CAP of Linux 5.9+). */
export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** RLIMIT_* names by resource number (x86_64, asm-generic/resource.h). */
export const RLIMIT_NAMES: readonly string[] = [
  'RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_DATA', 'RLIMIT_STACK', 'RLIMIT_CORE', 'RLIMIT_RSS',
  'RLIMIT_NPROC', 'RLIMIT_NOFILE', 'RLIMIT_MEMLOCK', 'RLIMIT_AS', 'RLIMIT_LOCKS',
  'RLIMIT_SIGPENDING', 'RLIMIT_MSGQUEUE', 'RLIMIT_NICE', 'RLIMIT_RTPRIO', 'RLIMIT_RTTIME',
];

export const NAMESPACE_TYPES: readonly NamespaceType[] = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];

export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
] as const;
/** The actions tsvisor enforces: SCMP_ACT_NOTIFY is refused (see seccompAt). */
export type SeccompAction = Exclude<(typeof SECCOMP_ACTIONS)[number], 'SCMP_ACT_NOTIFY'>;

export const SECCOMP_OPERATORS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'] as const;
export type SeccompOperator = (typeof SECCOMP_OPERATORS)[number];

/** linux.seccomp.flags tsvisor accepts (TSYNC, not in the OCI spec, as runc does). */
export const SECCOMP_FLAGS = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] as const;
export type SeccompFlag = (typeof SECCOMP_FLAGS)[number];

/** The OCI spec's seccomp architectures. Whatever a profile lists, it applies to x86_64 calls: tsvisor's own filter kills the others. */
export const SECCOMP_ARCHITECTURES: readonly string[] = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64', 'SCMP_ARCH_LOONGARCH64',
];

export interface SeccompArg {
  /** the syscall argument, 0..5 */
  index: number;
  /** below 2^53: JSON numbers are doubles */
  value: number;
  /** SCMP_CMP_MASKED_EQ's datum (value is the mask); 0 when absent */
  valueTwo: number;
  op: SeccompOperator;
}

export interface SeccompSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args: SeccompArg[];
}

export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures: string[];
  flags: SeccompFlag[];
  syscalls: SeccompSyscall[];
}

const HOOK_KINDS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;

/** The sandbox's user namespace maps container ids 0..65535 (docs/design.md). */
const MAX_ID = 65535;
/** JSON numbers are doubles: 2^64-1 arrives as 2^64, so that is the largest value we can tell apart. */
const RLIM_MAX = 2 ** 64;
/** runc and the kernel treat any rlimit value >= 2^63 as RLIM_INFINITY. */
const RLIM_UNLIMITED_FROM = 2 ** 63;

/** Whether an rlimit value from a spec means unlimited. */
export function isUnlimited(v: number): boolean {
  return v >= RLIM_UNLIMITED_FROM;
}

// ---- validation helpers ---------------------------------------------------
// Each takes the field's path (`mounts[3].destination`) and throws Invalid;
// the entry points turn that into a SpecError with the file name in front.

class Invalid extends Error {}

type Obj = Record<string, unknown>;

function fail(msg: string): never {
  throw new Invalid(msg);
}

function sub(at: string, key: string | number): string {
  if (typeof key === 'number') return `${at}[${key}]`;
  return at ? `${at}.${key}` : key;
}

/** A value quoted for a message: paths in full, other long values cut short. */
function show(v: unknown): string {
  const s = JSON.stringify(v);
  const limit = typeof v === 'string' ? 4200 : 80;
  return s === undefined ? String(v) : s.length > limit ? `${s.slice(0, limit - 3)}...` : s;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(v: unknown, at: string): Obj {
  if (!isObj(v)) fail(`${at || 'the document'} must be a JSON object, not ${show(v)}`);
  return v;
}

function optObj(o: Obj, key: string, at: string): Obj | undefined {
  return o[key] === undefined || o[key] === null ? undefined : obj(o[key], sub(at, key));
}

function str(v: unknown, at: string): string {
  if (typeof v !== 'string') fail(`${at} must be a string, not ${show(v)}`);
  if (v.includes('\0')) fail(`${at} ${show(v)} contains a NUL byte`);
  return v;
}

function optStr(o: Obj, key: string, at: string): string | undefined {
  return o[key] === undefined || o[key] === null ? undefined : str(o[key], sub(at, key));
}

function bool(o: Obj, key: string, at: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail(`${sub(at, key)} must be true or false, not ${show(v)}`);
  return v;
}

function int(v: unknown, at: string, min: number, max: number, why = ''): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(`${at} must be an integer, not ${show(v)}`);
  if (v < min || v > max) fail(`${at} ${v} is out of range ${min}..${max}${why}`);
  return v;
}

function arr(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) fail(`${at} must be an array, not ${show(v)}`);
  return v;
}

function optArr(o: Obj, key: string, at: string): unknown[] {
  return o[key] === undefined || o[key] === null ? [] : arr(o[key], sub(at, key));
}

function strings(o: Obj, key: string, at: string): string[] {
  return optArr(o, key, at).map((v, i) => str(v, sub(sub(at, key), i)));
}

function stringMap(o: Obj, key: string, at: string): Record<string, string> {
  const m = optObj(o, key, at) ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) out[k] = str(v, `${sub(at, key)}[${JSON.stringify(k)}]`);
  return out;
}

function absolute(v: unknown, at: string, what: string): string {
  const s = str(v, at);
  if (!s.startsWith('/')) fail(`${at} ${show(s)} must be an absolute ${what}`);
  return s;
}

function envList(o: Obj, key: string, at: string): string[] {
  const list = strings(o, key, at);
  list.forEach((e, i) => {
    if (e.indexOf('=') < 1) fail(`${sub(sub(at, key), i)} ${show(e)} must have the form NAME=VALUE`);
  });
  return list;
}

// ---- the process ------------------------------------------------------------

function capSet(caps: Obj, key: string, at: string): number[] {
  const out: number[] = [];
  strings(caps, key, at).forEach((name, i) => {
    const n = CAPABILITY_NAMES.indexOf(name);
    if (n < 0) fail(`${sub(sub(at, key), i)} ${show(name)} is not a capability name (CAP_CHOWN, CAP_KILL, ...)`);
    if (!out.includes(n)) out.push(n);
  });
  return out;
}

function rlimits(p: Obj, at: string): Rlimit[] {
  const out: Rlimit[] = [];
  optArr(p, 'rlimits', at).forEach((raw, i) => {
    const here = sub(sub(at, 'rlimits'), i);
    const r = obj(raw, here);
    const type = str(r.type, sub(here, 'type'));
    const resource = RLIMIT_NAMES.indexOf(type);
    if (resource < 0) fail(`${sub(here, 'type')} ${show(type)} is not a resource limit (RLIMIT_NOFILE, RLIMIT_NPROC, ...)`);
    const value = (key: 'soft' | 'hard'): number => {
      const v = r[key];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(`${sub(here, key)} must be a non-negative integer, not ${show(v)}`);
      if (v > RLIM_MAX) fail(`${sub(here, key)} ${v} is above 2^64-1`);
      return v;
    };
    const soft = value('soft');
    const hard = value('hard');
    // Compare as the kernel would: every value >= 2^63 is the same "unlimited".
    const eff = (v: number) => (isUnlimited(v) ? Infinity : v);
    if (eff(soft) > eff(hard)) fail(`${here}: soft limit ${soft} above hard limit ${hard}`);
    const dup = out.findIndex((x) => x.resource === resource);
    if (dup >= 0) fail(`${here}: ${type} is already set by ${sub(sub(at, 'rlimits'), dup)}`);
    out.push({ type, resource, soft, hard });
  });
  return out;
}

function processAt(raw: unknown, at: string): ProcessConfig {
  const p = obj(raw, at);
  const user = optObj(p, 'user', at) ?? {};
  const userAt = sub(at, 'user');
  const idWhy = ' (tsvisor maps container ids 0..65535)';
  const id = (v: unknown, field: string) => (v === undefined || v === null ? 0 : int(v, field, 0, MAX_ID, idWhy));

  const args = strings(p, 'args', at);
  if (args.length === 0) fail(`${sub(at, 'args')} must name a program to run (it is ${p.args === undefined ? 'missing' : 'empty'})`);
  const cwd = absolute(p.cwd, sub(at, 'cwd'), 'path');

  const out: ProcessConfig = {
    args,
    env: envList(p, 'env', at),
    cwd,
    uid: id(user.uid, sub(userAt, 'uid')),
    gid: id(user.gid, sub(userAt, 'gid')),
    additionalGids: optArr(user, 'additionalGids', userAt).map((g, i) => id(g, sub(sub(userAt, 'additionalGids'), i))),
    terminal: bool(p, 'terminal', at, false),
    rlimits: rlimits(p, at),
    capabilities: { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] },
    noNewPrivileges: bool(p, 'noNewPrivileges', at, false),
  };
  if (user.umask !== undefined && user.umask !== null) out.umask = int(user.umask, sub(userAt, 'umask'), 0, 0o777);
  const cs = optObj(p, 'consoleSize', at);
  if (cs) {
    const csAt = sub(at, 'consoleSize');
    out.consoleSize = { height: int(cs.height, sub(csAt, 'height'), 0, 0xffff), width: int(cs.width, sub(csAt, 'width'), 0, 0xffff) };
  }
  const caps = optObj(p, 'capabilities', at);
  if (caps) {
    const capAt = sub(at, 'capabilities');
    out.capabilities = {
      bounding: capSet(caps, 'bounding', capAt),
      effective: capSet(caps, 'effective', capAt),
      permitted: capSet(caps, 'permitted', capAt),
      inheritable: capSet(caps, 'inheritable', capAt),
      ambient: capSet(caps, 'ambient', capAt),
    };
  }
  if (p.oomScoreAdj !== undefined && p.oomScoreAdj !== null) out.oomScoreAdj = int(p.oomScoreAdj, sub(at, 'oomScoreAdj'), -1000, 1000);
  // apparmorProfile, selinuxLabel: tsvisor's guest never reaches an LSM-governed host call that they would change.
  return out;
}

/** Runs a validation step, turning Invalid into a SpecError with `prefix` in front. */
function withPrefix<T>(prefix: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Invalid) throw new SpecError(`${prefix}${e.message}`);
    throw e;
  }
}

/**
 * Validates an OCI process object: config.json's `process`, or the
 * process.json of `exec --process`. `where` is where it came from: a field
 * path ("process": messages read "process.args ...") or a file name ending
 * in .json ("process.json": messages read "process.json: args ...").
 */
export function parseProcess(raw: unknown, where = 'process'): ProcessConfig {
  if (where.endsWith('.json')) return withPrefix(`${where}: `, () => processAt(raw, ''));
  return withPrefix('', () => processAt(raw, where));
}

// ---- mounts -------------------------------------------------------------------

/** What tsvisor makes of a mount; the Sentry's MountSpec types. */
function mountKind(m: { destination: string; type: string; options: string[] }, at: string): MountSpec['type'] {
  if (m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind')) return 'bind';
  switch (m.type) {
    case 'tmpfs':
      // tsvisor builds its own /dev (null, zero, tty, ptmx, ...), as runc populates Docker's /dev tmpfs.
      return m.destination === '/dev' ? 'dev' : 'tmpfs';
    case 'proc':
    case 'sysfs':
    case 'devpts':
    case 'mqueue':
    case 'cgroup':
      return m.type;
    case 'cgroup2':
      return 'cgroup';
    default:
      return fail(`${sub(at, 'type')} ${show(m.type)} is not supported (tsvisor mounts bind, tmpfs, proc, sysfs, devpts, mqueue and cgroup)`);
  }
}

function mountDestination(v: unknown, at: string): string {
  const s = str(v, at);
  if (!s.startsWith('/')) fail(`${at} ${show(s)} must be an absolute path inside the container`);
  if (s.split('/').includes('..')) fail(`${at} ${show(s)} must not contain ".." components`);
  const norm = path.posix.normalize(s).replace(/(.)\/+$/, '$1');
  if (norm === '/') fail(`${at} ${show(s)} would replace the container's root (that is root.path)`);
  return norm;
}

function mountAt(raw: unknown, at: string, bundleDir: string): MountConfig {
  const m = obj(raw, at);
  const destination = mountDestination(m.destination, sub(at, 'destination'));
  const type = optStr(m, 'type', at) ?? 'none';
  const options = strings(m, 'options', at);
  let source = optStr(m, 'source', at);
  const kind = mountKind({ destination, type, options }, at);
  if (kind === 'bind') {
    const srcAt = sub(at, 'source');
    if (source === undefined || source === '') fail(`${srcAt} is required for a bind mount`);
    // OCI: bind sources are absolute or relative to the bundle.
    source = path.resolve(bundleDir, source);
    if (!fs.existsSync(source)) fail(`${srcAt} ${show(source)} does not exist on the host`);
  } else if (kind === 'tmpfs') {
    tmpfsOptions(options, at);
  }
  const out: MountConfig = { destination, type, options };
  if (source !== undefined) out.source = source;
  return out;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50, e: 2 ** 60 };

interface TmpfsOptions {
  size?: number;
  inodes?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  noexec: boolean;
  nodev: boolean;
  nosuid: boolean;
}

/**
 * tmpfs's options as mount(8) reads them: size= (size=64m, size=65536k,
 * size=50%), nr_inodes= (with k, m, g), mode= (octal), uid=, gid=, and the
 * flags noexec/exec, nodev/dev and nosuid/suid (the last one wins).
 */
function tmpfsOptions(options: string[], at: string): TmpfsOptions {
  const out: TmpfsOptions = { noexec: false, nodev: false, nosuid: false };
  options.forEach((o, i) => {
    const here = sub(sub(at, 'options'), i);
    const eq = o.indexOf('=');
    const [key, value] = eq < 0 ? [o, ''] : [o.slice(0, eq), o.slice(eq + 1)];
    const count = (pattern: RegExp, what: string) => {
      const m = pattern.exec(value);
      if (!m) fail(`${here} ${show(o)}: ${what}`);
      const n = Number(m[1]);
      const v = m[2] === '%' ? Math.floor((os.totalmem() * n) / 100) : n * SIZE_UNITS[m[2]!.toLowerCase()]!;
      if (!Number.isSafeInteger(v)) fail(`${here} ${show(o)}: the number is too large`);
      return v;
    };
    const id = () => {
      if (!/^\d{1,10}$/.test(value) || Number(value) > 2 ** 32 - 2) fail(`${here} ${show(o)}: the id must be a number below 4294967295`);
      return Number(value);
    };
    switch (key) {
      case 'size':
        out.size = count(/^(\d+)([kmgtpe%]?)$/i, 'the size must be a number of bytes with an optional k, m, g suffix or %');
        break;
      case 'nr_inodes':
        out.inodes = count(/^(\d+)([kmg]?)$/i, 'nr_inodes must be a number with an optional k, m, g suffix');
        break;
      case 'mode': {
        const mode = /^[0-7]+$/.test(value) ? parseInt(value, 8) : NaN;
        if (!(mode <= 0o7777)) fail(`${here} ${show(o)}: the mode must be octal, at most 7777`);
        out.mode = mode;
        break;
      }
      case 'uid':
        out.uid = id();
        break;
      case 'gid':
        out.gid = id();
        break;
      case 'noexec':
      case 'exec':
        out.noexec = key === 'noexec';
        break;
      case 'nodev':
      case 'dev':
        out.nodev = key === 'nodev';
        break;
      case 'nosuid':
      case 'suid':
        out.nosuid = key === 'nosuid';
        break;
    }
  });
  return out;
}

/** ro/rw: the last one wins, as with mount(8). */
/** Whether a mount flag is set: `on` or `off` (ro/rw, nosuid/suid), the last one winning, as mount(8) reads them. */
function hasFlag(options: string[], on: string, off: string): boolean {
  let set = false;
  for (const o of options) {
    if (o === on) set = true;
    else if (o === off) set = false;
  }
  return set;
}

// ---- linux ------------------------------------------------------------------

function hooksAt(raw: unknown, at: string): Hooks {
  const h = raw === undefined || raw === null ? {} : obj(raw, at);
  const out = {} as Hooks;
  for (const kind of HOOK_KINDS) {
    out[kind] = optArr(h, kind, at).map((rawHook, i) => {
      const here = sub(sub(at, kind), i);
      const o = obj(rawHook, here);
      const hook: Hook = { path: absolute(o.path, sub(here, 'path'), 'host path') };
      if (o.args !== undefined && o.args !== null) hook.args = strings(o, 'args', here);
      if (o.env !== undefined && o.env !== null) hook.env = envList(o, 'env', here);
      if (o.timeout !== undefined && o.timeout !== null) hook.timeout = int(o.timeout, sub(here, 'timeout'), 1, 2 ** 31 - 1);
      return hook;
    });
  }
  return out;
}

function namespacesAt(l: Obj, at: string): Namespace[] {
  const out: Namespace[] = [];
  optArr(l, 'namespaces', at).forEach((raw, i) => {
    const here = sub(sub(at, 'namespaces'), i);
    const n = obj(raw, here);
    const type = str(n.type, sub(here, 'type'));
    if (!(NAMESPACE_TYPES as readonly string[]).includes(type)) {
      fail(`${sub(here, 'type')} ${show(type)} is not a namespace type (${NAMESPACE_TYPES.join(', ')})`);
    }
    const dup = out.findIndex((x) => x.type === type);
    if (dup >= 0) fail(`${here}: namespace type ${show(type)} is already listed at ${sub(sub(at, 'namespaces'), dup)}`);
    const ns: Namespace = { type: type as NamespaceType };
    if (n.path !== undefined && n.path !== null && n.path !== '') ns.path = absolute(n.path, sub(here, 'path'), 'host path');
    out.push(ns);
  });
  return out;
}

function mappings(l: Obj, key: string, at: string): IdMapping[] {
  return optArr(l, key, at).map((raw, i) => {
    const here = sub(sub(at, key), i);
    const m = obj(raw, here);
    const u32 = 2 ** 32 - 1;
    return {
      containerID: int(m.containerID, sub(here, 'containerID'), 0, u32),
      hostID: int(m.hostID, sub(here, 'hostID'), 0, u32),
      size: int(m.size, sub(here, 'size'), 1, u32),
    };
  });
}

/**
 * Character devices the Sentry provides itself, by "major:minor": its own
 * /dev nodes. Any other character device is the host's, passed through.
 */
const PROVIDED_DEVICES = new Set(['1:3', '1:5', '1:7', '1:8', '1:9', '5:0', '5:2']);

/**
 * The host's name under /dev of character device major:minor, as the
 * kernel names it (/sys/dev/char/M:m/uevent DEVNAME), checked to be that
 * device; undefined when the host has none.
 */
function hostCharDevice(major: number, minor: number): string | undefined {
  let uevent: string;
  try {
    uevent = fs.readFileSync(`/sys/dev/char/${major}:${minor}/uevent`, 'utf8');
  } catch {
    return undefined;
  }
  const name = /^DEVNAME=(.+)$/m.exec(uevent)?.[1];
  if (!name || name.split('/').some((p) => p === '' || p === '.' || p === '..')) return undefined;
  try {
    const st = fs.lstatSync(`/dev/${name}`);
    return st.isCharacterDevice() && st.rdev === makedev(major, minor) ? name : undefined;
  } catch {
    return undefined;
  }
}

/** linux.devices: character devices under /dev, none a host terminal (whether the host has each is checked at create). */
function withDevicesChecked(devices: DeviceConfig[]): DeviceConfig[] {
  devices.forEach((d, i) => {
    const here = `linux.devices[${i}]`;
    const id = `${d.type} ${d.major ?? '-'}:${d.minor ?? '-'}`;
    if (d.type !== 'c' && d.type !== 'u') fail(`${here}: ${d.path} (${id}): tsvisor passes character devices only`);
    if (!d.path.startsWith('/dev/') || d.path.split('/').includes('..')) fail(`${here}: ${d.path}: device nodes can only be made under /dev`);
    if (PROVIDED_DEVICES.has(`${d.major}:${d.minor}`)) return;
    // The sandbox's terminals are its own (a devpts of the Gofer's); the host's are never passed.
    if (d.major === 4 || d.major === 5 || (d.major! >= PTS_MAJOR_FIRST && d.major! <= PTS_MAJOR_LAST)) fail(`${here}: ${d.path} (${id}): tsvisor passes no host terminals`);
  });
  return devices;
}

/**
 * Rules runc 1.1 adds after the spec's (specconv AllowedDevices) for a
 * device tsvisor may pass through: /dev/net/tun. Its others are devices
 * the Sentry provides or terminals, which are never passed.
 */
const RUNC_ALLOWED_DEVICES = [{ allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }];

/**
 * Whether the devices cgroup rules (linux.resources.devices, then runc's
 * own, in order, the last rule that matches an access deciding it; no rule:
 * allowed) let a process read and write character device major:minor.
 */
function cgroupAccess(resources: Record<string, unknown> | undefined, major: number, minor: number): { read: boolean; write: boolean } {
  const out = { read: true, write: true };
  const rules = Array.isArray(resources?.devices) ? (resources.devices as unknown[]) : [];
  for (const r of [...rules, ...RUNC_ALLOWED_DEVICES] as Record<string, unknown>[]) {
    if (r === null || typeof r !== 'object') continue;
    const type = r.type ?? 'a';
    const matches = (v: unknown, n: number) => v === undefined || v === null || v === -1 || v === n;
    if ((type !== 'a' && type !== 'c') || !matches(r.major, major) || !matches(r.minor, minor)) continue;
    const access = typeof r.access === 'string' && r.access !== '' ? r.access : 'rwm';
    if (access.includes('r')) out.read = r.allow === true;
    if (access.includes('w')) out.write = r.allow === true;
  }
  return out;
}

function devicesAt(l: Obj, at: string): DeviceConfig[] {
  return optArr(l, 'devices', at).map((raw, i) => {
    const here = sub(sub(at, 'devices'), i);
    const d = obj(raw, here);
    const type = str(d.type, sub(here, 'type'));
    if (type !== 'c' && type !== 'b' && type !== 'u' && type !== 'p') fail(`${sub(here, 'type')} ${show(type)} must be one of c, b, u, p`);
    const dev: DeviceConfig = { path: absolute(d.path, sub(here, 'path'), 'path inside the container'), type };
    const u32 = 2 ** 32 - 1;
    if (d.major !== undefined) dev.major = int(d.major, sub(here, 'major'), 0, u32);
    if (d.minor !== undefined) dev.minor = int(d.minor, sub(here, 'minor'), 0, u32);
    if (type !== 'p' && (dev.major === undefined || dev.minor === undefined)) fail(`${here}: a ${type} device needs major and minor numbers`);
    if (d.fileMode !== undefined) dev.fileMode = int(d.fileMode, sub(here, 'fileMode'), 0, 0o7777);
    if (d.uid !== undefined) dev.uid = int(d.uid, sub(here, 'uid'), 0, u32);
    if (d.gid !== undefined) dev.gid = int(d.gid, sub(here, 'gid'), 0, u32);
    return dev;
  });
}

/**
 * linux.seccomp, refusing what tsvisor cannot enforce: SCMP_ACT_NOTIFY (a
 * process may have one seccomp listener, and the Sentry's filter holds it)
 * and what only serves it. errnoRet on an action without one is ignored, as
 * runc ignores it.
 */
function seccompAt(raw: unknown, at: string): LinuxSeccomp | undefined {
  const s = obj(raw, at);
  const syscalls = optArr(s, 'syscalls', at);
  if ((s.defaultAction === undefined || s.defaultAction === '') && syscalls.length === 0) return undefined;
  const action = (v: unknown, here: string): SeccompAction => {
    const a = str(v, here);
    if (!(SECCOMP_ACTIONS as readonly string[]).includes(a)) fail(`${here} ${show(a)} is not a seccomp action (${SECCOMP_ACTIONS.join(', ')})`);
    if (a === 'SCMP_ACT_NOTIFY') fail(`${here} ${show(a)} is not supported: a process may have one seccomp listener, and tsvisor's own filter holds it`);
    return a as SeccompAction;
  };
  const errnoRet = (o: Obj, key: string, here: string) => (o[key] === undefined || o[key] === null ? undefined : int(o[key], sub(here, key), 0, SECCOMP_RET_DATA));
  if (optStr(s, 'listenerPath', at)) fail(`${sub(at, 'listenerPath')} is not supported: it serves SCMP_ACT_NOTIFY, which tsvisor does not support`);
  const flags = strings(s, 'flags', at).map((f, i) => {
    const here = sub(sub(at, 'flags'), i);
    if (f === 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV') fail(`${here} ${show(f)} is not supported: it applies to SCMP_ACT_NOTIFY, which tsvisor does not support`);
    if (!(SECCOMP_FLAGS as readonly string[]).includes(f)) fail(`${here} ${show(f)} is not a seccomp flag (${SECCOMP_FLAGS.join(', ')})`);
    return f as SeccompFlag;
  });
  const architectures = strings(s, 'architectures', at);
  architectures.forEach((a, i) => {
    if (!SECCOMP_ARCHITECTURES.includes(a)) fail(`${sub(sub(at, 'architectures'), i)} ${show(a)} is not a seccomp architecture (SCMP_ARCH_X86_64, SCMP_ARCH_X86, ...)`);
  });
  const out: LinuxSeccomp = { defaultAction: action(s.defaultAction, sub(at, 'defaultAction')), architectures, flags, syscalls: [] };
  const defaultErrnoRet = errnoRet(s, 'defaultErrnoRet', at);
  if (defaultErrnoRet !== undefined) out.defaultErrnoRet = defaultErrnoRet;
  out.syscalls = syscalls.map((rawRule, i) => {
    const here = sub(sub(at, 'syscalls'), i);
    const r = obj(rawRule, here);
    if (!Array.isArray(r.names) || r.names.length === 0) fail(`${sub(here, 'names')} must be a non-empty array of syscall names`);
    const names = strings(r, 'names', here);
    const rule: SeccompSyscall = { names, action: action(r.action, sub(here, 'action')), args: optArr(r, 'args', here).map((a, j) => seccompArgAt(a, sub(sub(here, 'args'), j))) };
    const ret = errnoRet(r, 'errnoRet', here);
    if (ret !== undefined) rule.errnoRet = ret;
    return rule;
  });
  return out;
}

/** A seccomp profile on its own (a file Docker's --security-opt seccomp= takes, or a config's linux.seccomp), validated as linux.seccomp is. */
export function parseSeccompProfile(raw: unknown, where: string): LinuxSeccomp {
  return withPrefix(`${where}: `, () => seccompAt(raw, '') ?? fail('neither a defaultAction nor syscalls: the profile allows everything'));
}

function seccompArgAt(raw: unknown, at: string): SeccompArg {
  const a = obj(raw, at);
  const op = str(a.op, sub(at, 'op'));
  if (!(SECCOMP_OPERATORS as readonly string[]).includes(op)) fail(`${sub(at, 'op')} ${show(op)} is not a seccomp comparison (${SECCOMP_OPERATORS.join(', ')})`);
  const value = (key: string) => int(a[key] ?? 0, sub(at, key), 0, Number.MAX_SAFE_INTEGER, ' (JSON numbers beyond 2^53 are not exact)');
  return { index: int(a.index, sub(at, 'index'), 0, 5), value: value('value'), valueTwo: value('valueTwo'), op: op as SeccompOperator };
}

/** Sysctls the IPC namespace isolates (besides fs.mqueue.*). */
const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/**
 * Only sysctls that a namespace of the container's own isolates can be set
 * (runc's rule): net.* with a network namespace, IPC ones with an IPC
 * namespace, kernel.hostname/domainname with a UTS namespace.
 */
function sysctlAt(sysctl: Record<string, string>, namespaces: Namespace[]): void {
  const has = (t: NamespaceType) => namespaces.some((n) => n.type === t);
  for (const [key, value] of Object.entries(sysctl)) {
    const here = `linux.sysctl[${show(key)}]`;
    if (!/^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$/.test(key)) fail(`${here}: not a sysctl name`);
    if (/[\n\0]/.test(value)) fail(`${here}: the value contains a newline or NUL`);
    let ns: NamespaceType;
    if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) ns = 'ipc';
    else if (key.startsWith('net.')) ns = 'network';
    else if (key === 'kernel.hostname' || key === 'kernel.domainname') ns = 'uts';
    else fail(`${here}: sysctl ${show(key)} is not in a separate kernel namespace`);
    if (!has(ns)) fail(`${here}: sysctl ${show(key)} needs ${ns === 'ipc' ? 'an' : 'a'} ${ns} namespace of the container's own`);
  }
}

function ociVersionAt(v: unknown): string {
  if (v === undefined) fail('ociVersion is missing');
  const s = str(v, 'ociVersion');
  const m = /^(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$/.exec(s);
  if (!m) fail(`ociVersion ${show(s)} is not a version such as 1.0.2`);
  if (m[1] !== '1') fail(`ociVersion ${show(s)}: tsvisor implements version 1 of the runtime spec`);
  return s;
}

function rootAt(raw: unknown, bundleDir: string): { path: string; readonly: boolean } {
  if (raw === undefined || raw === null) fail('root is missing');
  const r = obj(raw, 'root');
  const given = str(r.path, 'root.path');
  if (given === '') fail('root.path must not be empty');
  // OCI: relative to the bundle. A relative path climbing out of the bundle
  // (say "../../.." for the host's root) is refused: no client writes one.
  const abs = path.resolve(bundleDir, given);
  const shown = abs === given ? show(given) : `${show(given)} (${abs})`;
  if (!path.isAbsolute(given) && path.relative(bundleDir, abs).split(path.sep)[0] === '..') fail(`root.path ${shown} is relative and leaves the bundle`);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    fail(`root.path ${shown} does not exist`);
  }
  if (!st.isDirectory()) fail(`root.path ${shown} is not a directory`);
  return { path: abs, readonly: bool(r, 'readonly', 'root', false) };
}

function hostnameAt(o: Obj, key: string): string | undefined {
  const v = optStr(o, key, '');
  // The kernel's limit (__NEW_UTS_LEN).
  if (v !== undefined && v.length > 64) fail(`${key} ${show(v)} is longer than 64 characters`);
  return v;
}

/** Validates a parsed config.json; relative paths in it are resolved against bundleDir. */
export function parseConfig(raw: unknown, bundleDir: string): ContainerConfig {
  return withPrefix('config.json: ', () => {
    const c = obj(raw, '');
    const ociVersion = ociVersionAt(c.ociVersion);
    const root = rootAt(c.root, bundleDir);
    if (c.process === undefined || c.process === null) fail('process is missing');
    const proc = processAt(c.process, 'process');
    const linux = optObj(c, 'linux', '') ?? {};
    const namespaces = namespacesAt(linux, 'linux');
    const out: ContainerConfig = {
      ociVersion,
      root,
      process: proc,
      mounts: optArr(c, 'mounts', '').map((m, i) => mountAt(m, sub('mounts', i), bundleDir)),
      hooks: hooksAt(c.hooks, 'hooks'),
      namespaces,
      uidMappings: mappings(linux, 'uidMappings', 'linux'),
      gidMappings: mappings(linux, 'gidMappings', 'linux'),
      sysctl: stringMap(linux, 'sysctl', 'linux'),
      maskedPaths: optArr(linux, 'maskedPaths', 'linux').map((p, i) => absolute(p, sub('linux.maskedPaths', i), 'path')),
      readonlyPaths: optArr(linux, 'readonlyPaths', 'linux').map((p, i) => absolute(p, sub('linux.readonlyPaths', i), 'path')),
      devices: withDevicesChecked(devicesAt(linux, 'linux')),
      annotations: stringMap(c, 'annotations', ''),
    };
    const hostname = hostnameAt(c, 'hostname');
    if (hostname !== undefined) out.hostname = hostname;
    const domainname = hostnameAt(c, 'domainname');
    if (domainname !== undefined) out.domainname = domainname;
    sysctlAt(out.sysctl, namespaces);
    const netns = namespaces.find((n) => n.type === 'network');
    if (netns?.path) out.netnsPath = netns.path;
    const resources = optObj(linux, 'resources', 'linux');
    if (resources) out.resources = resources;
    const seccomp = linux.seccomp === undefined || linux.seccomp === null ? undefined : seccompAt(linux.seccomp, 'linux.seccomp');
    if (seccomp) out.seccomp = seccomp;
    const cgroupsPath = optStr(linux, 'cgroupsPath', 'linux');
    if (cgroupsPath !== undefined) out.cgroupsPath = cgroupsPath;
    return out;
  });
}

/** Reads and validates `<bundleDir>/config.json`. */
export function loadConfig(bundleDir: string): ContainerConfig {
  const bundle = path.resolve(bundleDir);
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new SpecError(fs.existsSync(bundle) ? `bundle ${bundle}: config.json not found` : `bundle ${bundle}: no such directory`);
    }
    throw new SpecError(`bundle ${bundle}: cannot read config.json: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SpecError(`config.json: not valid JSON: ${(e as Error).message}`);
  }
  return parseConfig(raw, bundle);
}

// ---- to the Sentry ----------------------------------------------------------------

export interface SandboxOptions {
  overlay: boolean;
  network: 'none' | 'host';
  stdio: [number, number, number];
  strace: boolean;
  /** --strace-syscalls (names, checked) */
  straceSyscalls?: string;
  /** make the guest the terminal's foreground job (default false) */
  foreground?: boolean;
}

/**
 * Maps a validated config onto the Sentry's SandboxSpec. The network
 * namespace and the oom score are set by the sandbox process (tsvisor boot),
 * which knows the runtime's flags.
 */
export function toSandboxSpec(c: ContainerConfig, opts: SandboxOptions): SandboxSpec {
  const p = c.process;
  const mounts: MountSpec[] = c.mounts.map((m, i) => {
    const at = sub('mounts', i);
    const kind = withPrefix('config.json: ', () => mountKind(m, at));
    const readonly = hasFlag(m.options, 'ro', 'rw');
    if (kind === 'bind') return { destination: m.destination, type: 'bind', source: m.source!, readonly, nosuid: hasFlag(m.options, 'nosuid', 'suid') };
    const shown = m.source ? { source: m.source } : {};
    switch (kind) {
      case 'tmpfs': {
        const t = withPrefix('config.json: ', () => tmpfsOptions(m.options, at));
        return { destination: m.destination, type: 'tmpfs', readonly, source: m.source || 'tmpfs', ...t };
      }
      case 'sysfs':
      case 'cgroup':
        return { destination: m.destination, type: kind, readonly: true, ...shown };
      default:
        return { destination: m.destination, type: kind, readonly, ...shown };
    }
  });
  // The OCI spec has the runtime supply /dev/null, zero, tty, ... even when
  // the config mounts nothing on /dev; tsvisor's dev mount is where they are.
  if (!mounts.some((m) => m.destination === '/dev')) mounts.unshift({ destination: '/dev', type: 'dev' });
  const unlimited = (v: number) => (isUnlimited(v) ? -1 : v);
  // kernel.hostname and kernel.domainname are the UTS names (runc writes them to /proc/sys).
  const domainname = c.sysctl['kernel.domainname'] ?? c.domainname;
  return {
    rootfs: c.root.path,
    rootReadonly: c.root.readonly,
    overlay: opts.overlay,
    network: opts.network,
    args: [...p.args],
    env: [...p.env],
    cwd: p.cwd,
    uid: p.uid,
    gid: p.gid,
    groups: [...p.additionalGids],
    umask: p.umask ?? 0o022,
    hostname: c.sysctl['kernel.hostname'] ?? (c.hostname || 'localhost'),
    ...(domainname ? { domainname } : {}),
    sysctl: Object.fromEntries(Object.entries(c.sysctl).filter(([k]) => k !== 'kernel.hostname' && k !== 'kernel.domainname')),
    caps: structuredClone(p.capabilities),
    noNewPrivs: p.noNewPrivileges,
    rlimits: p.rlimits.map((r): [number, number, number] => [r.resource, unlimited(r.soft), unlimited(r.hard)]),
    mounts,
    stdio: opts.stdio,
    foreground: opts.foreground ?? false,
    // Checked here, at create, not when config.json is read: delete must work after a device is gone.
    devices: c.devices.map((d, i) => {
      const provided = PROVIDED_DEVICES.has(`${d.major}:${d.minor}`);
      const host = provided ? undefined : hostCharDevice(d.major!, d.minor!);
      if (!provided && host === undefined) {
        withPrefix('config.json: ', () => fail(`linux.devices[${i}]: ${d.path} (${d.type} ${d.major}:${d.minor}): the host has no such character device`));
      }
      return {
        path: d.path,
        rdev: makedev(d.major!, d.minor!),
        mode: d.fileMode ?? 0o666,
        uid: d.uid ?? 0,
        gid: d.gid ?? 0,
        ...(host === undefined ? {} : { host, access: cgroupAccess(c.resources, d.major!, d.minor!) }),
      };
    }),
    ...(c.namespaces.some((n) => n.type === 'user') && (c.uidMappings.length || c.gidMappings.length)
      ? { idMappings: { uid: [...c.uidMappings], gid: [...c.gidMappings] } }
      : {}),
    maskedPaths: [...c.maskedPaths],
    readonlyPaths: [...c.readonlyPaths],
    strace: opts.strace,
    ...(opts.straceSyscalls === undefined ? {} : { straceSyscalls: opts.straceSyscalls }),
  };
}
