// The `tsvisor test` report (docs/testrun.md, "The report's JSON schema"):
// the types every output reads (JSON, HTML, Markdown, the stderr summary,
// GitHub annotations, --fail-on), and buildReport(), which makes one from
// what the Recorder observed. Field names are stable within a schema
// version; removing, renaming or changing the meaning of a field bumps it.
import path from 'node:path';
import { errnoName } from '../abi/errno.js';
import type { Report as CoverageReport } from '../coverage/schema.js';
import type { Exit, FileOp } from '../sentry/spec.js';
import { type DenialRecord, type ProcessRecord, type Recorder, WRITE_OPS } from './recorder.js';

export const TEST_REPORT_SCHEMA = 1;

export type NetworkMode = 'none' | 'loopback' | 'host';

/** Where a path's writes went. */
export type WriteTarget = 'memory' | 'host' | 'tmp' | 'pseudo';

/** Where a read path lies, in the order the report lists them. */
export type ReadArea = 'outside' | 'project' | 'tmp' | 'system' | 'pseudo';

export interface TestRunReport {
  schema: typeof TEST_REPORT_SCHEMA;
  tool: { name: 'tsvisor'; version: string };
  command: string[];
  cwd: string;
  /** ISO 8601 */
  startedAt: string;
  durationMs: number;
  /** tsvisor's exit status; `suite`: the command's own (128+N for signal N) */
  status: number;
  suite: { status: number; signal: number | null; timedOut: boolean };
  sandbox: SandboxSettings;
  summary: Summary;
  writes: Writes;
  reads: ReadGroup[];
  denials: DenialReport[];
  network: NetworkReport[];
  processes: ProcessReport[];
  tests: TestReport[];
  syscalls: SyscallSummary;
  failOn: { kinds: string[]; triggered: { kind: string; count: number; example: string }[] };
  /** events not kept because a bound was reached (src/testrun/recorder.ts RECORD_LIMITS) */
  dropped: { paths: number; network: number; denials: number; processes: number; tests: number };
}

export interface SandboxSettings {
  network: NetworkMode;
  /** `tmpfs`: /tmp is a private tmpfs; `overlay`: the working directory is under /tmp, so /tmp stays in the overlay */
  tmp: 'tmpfs' | 'overlay';
  allowWrite: string[];
  /** hidden paths; `default`: tsvisor's secrets list, else --hide; `present`: it exists on the host */
  hidden: { path: string; default: boolean; present: boolean }[];
  limits: { memory: number; pids: number; overlaySize: number; timeoutMs: number };
  rootless: boolean;
}

export interface Summary {
  filesWritten: number;
  filesDeleted: number;
  denials: number;
  secretsRead: number;
  networkAttempts: number;
  /** attempts to reach an address outside the sandbox */
  externalNetwork: number;
  processes: number;
  leakedProcesses: number;
  /** bytes; null when unknown */
  peakMemory: number | null;
}

/**
 * A change the overlay holds at the end: the fields of src/testrun/writes.ts's
 * WriteChange the report reads (docs/testrun.md, "Writes", has them all).
 */
export interface OverlayChange {
  path: string;
  kind: 'created' | 'modified' | 'deleted' | 'metadata' | 'type-changed';
  type: string;
  /** bytes the guest left; null: deleted */
  size: number | null;
  /** bytes the host has; null: created */
  hostSize: number | null;
  binary?: boolean;
  /** text files: a unified diff against the host version */
  diff?: string;
  diffTruncated?: boolean;
}

/** --export-writes: the file, and what writes.ts's export says of it. */
export interface ExportReport {
  file: string;
  format: 'patch' | 'tar';
  /** changes below the working directory, exported */
  changes: number;
  /** changes elsewhere, not exported */
  outside: number;
  /** what the format cannot carry, by path */
  left: { path: string; why: string }[];
}

export interface Writes {
  /** the overlay's changes at the end, each with the tests that wrote its path (from the events); null when not collected (`note` says why) */
  changes: (OverlayChange & { tests: string[] })[] | null;
  note?: string;
  /** every path the guest changed, from the events, with where the change went */
  paths: WrittenPath[];
  /** with --export-writes */
  exported?: ExportReport;
}

export interface WrittenPath {
  path: string;
  target: WriteTarget;
  ops: Partial<Record<FileOp, number>>;
  to?: string;
  tests: string[];
}

export interface ReadGroup {
  dir: string;
  area: ReadArea;
  /** successful reads of contents (open for reading, exec) */
  reads: number;
  /** successful looks without contents (stat, list, readlink, access) */
  looks: number;
  /** failed attempts (mostly ENOENT lookups) */
  misses: number;
  files: { name: string; reads: number; looks: number; misses: number; tests: string[] }[];
}

export interface DenialReport {
  pid: number;
  process: string | null;
  rule: DenialRecord['rule'];
  what: string;
  path?: string;
  errno: string;
  /** which rule refused it, in words */
  why: string;
  /** the flag that would allow it; null when none does */
  allowWith: string | null;
  /** a hidden path that exists on the host (a secret read) */
  secret: boolean;
  test: string | null;
}

export interface NetworkReport {
  pid: number;
  process: string | null;
  call: string;
  family: string;
  protocol: string;
  address: string;
  port: number | null;
  /** `loopback` and `unix` stay in the sandbox; `external` would leave it */
  scope: 'loopback' | 'unix' | 'external' | 'other';
  /** "ok" or the errno name */
  outcome: string;
  test: string | null;
}

export interface ProcessReport {
  pid: number;
  ppid: number;
  exe: string | null;
  argv: string[] | null;
  /** ms since the run started */
  startMs: number;
  durationMs: number | null;
  exit: { status: number; signal: number | null } | null;
  peakRss: number | null;
  /** still running when the suite's command ended (tsvisor stopped it) */
  leaked: boolean;
  test: string | null;
}

export interface TestReport {
  name: string;
  pid: number;
  result: string | null;
  durationMs: number | null;
  reads: number;
  writes: number;
  network: number;
  denials: number;
  processes: number;
  /** the paths it changed (at most 50) */
  written: string[];
}

export type SyscallSummary =
  | { available: true; calls: number; errors: number; top: { name: string; calls: number; errors: number; disposition: string; tsvisor: string }[] }
  | { available: false; why: string };

/** What buildReport needs besides the recorder. */
export interface RunContext {
  version: string;
  command: string[];
  cwd: string;
  startedAt: number;
  endedAt: number;
  exit: Exit;
  status: number;
  timedOut: boolean;
  sandbox: SandboxSettings;
  /** the guests' cgroup peak, when known */
  peakMemory: number | null;
  changes: OverlayChange[] | null;
  exported?: ExportReport;
  coverage: CoverageReport | null;
  coverageWhy?: string;
  failOn: string[];
}

/** System areas: read by every program, listed after the rest. */
const SYSTEM_AREAS = ['/usr', '/lib', '/lib32', '/lib64', '/libx32', '/bin', '/sbin', '/etc', '/opt', '/var/lib', '/var/cache', '/nix/store', '/snap'];
const PSEUDO_AREAS = ['/proc', '/sys', '/dev'];
const TMP_AREAS = ['/tmp', '/dev/shm'];

/** Whether `p` is `dir` or below it. */
export function within(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

const inAny = (p: string, dirs: readonly string[]) => dirs.some((d) => within(p, d));

/** Where a write to `p` went, given the sandbox's mounts. */
export function writeTarget(p: string, s: SandboxSettings): WriteTarget {
  if (inAny(p, s.allowWrite)) return 'host';
  if (within(p, '/dev/shm') || (s.tmp === 'tmpfs' && within(p, '/tmp'))) return 'tmp';
  if (inAny(p, PSEUDO_AREAS)) return 'pseudo';
  return 'memory';
}

function readArea(p: string, cwd: string, s: SandboxSettings): ReadArea {
  if (within(p, cwd) || inAny(p, s.allowWrite)) return 'project';
  if (inAny(p, TMP_AREAS)) return 'tmp';
  if (inAny(p, PSEUDO_AREAS)) return 'pseudo';
  if (inAny(p, SYSTEM_AREAS)) return 'system';
  return 'outside';
}

const AREA_ORDER: ReadArea[] = ['outside', 'project', 'tmp', 'system', 'pseudo'];
const LOOK_OPS: FileOp[] = ['stat', 'list', 'readlink', 'access'];

function scopeOf(call: string, family: string, address: string, network: NetworkMode): NetworkReport['scope'] {
  if (family === 'AF_UNIX') return 'unix';
  if (family !== 'AF_INET' && family !== 'AF_INET6') return 'other';
  if (/^127\./.test(address) || address === '::1' || /^::ffff:127\./i.test(address)) return 'loopback';
  // A server on the wildcard address in the sandbox's own network is reachable from its loopback alone.
  if ((call === 'bind' || call === 'listen') && network !== 'host' && (address === '0.0.0.0' || address === '::')) return 'loopback';
  return 'external';
}

/** The hidden entry a path lies under. */
function hiddenEntry(p: string | undefined, s: SandboxSettings): SandboxSettings['hidden'][number] | undefined {
  return p === undefined ? undefined : s.hidden.find((h) => within(p, h.path));
}

/** Explains a denial: which rule, and the flag that would allow it. */
export function explainDenial(d: DenialRecord, s: SandboxSettings): { why: string; allowWith: string | null; secret: boolean } {
  switch (d.rule) {
    case 'hidden': {
      const h = hiddenEntry(d.path, s);
      if (!h) return { why: 'the path is hidden from the sandbox', allowWith: null, secret: false };
      return h.default
        ? { why: `${h.path} is hidden: tsvisor test hides credentials by default (docs/testrun.md, "Hidden by default")${h.present ? '' : '; it does not exist on the host'}`, allowWith: `--show ${h.path}`, secret: h.present }
        : { why: `${h.path} is hidden by --hide ${h.path}`, allowWith: `no --hide ${h.path}`, secret: h.present };
    }
    case 'read-only':
      return { why: `${d.path ?? 'the path'} is on a read-only mount of the sandbox (/sys, or /proc's read-only parts), which no run may change`, allowWith: null, secret: false };
    case 'syscall':
      return { why: `tsvisor refuses ${d.what.split(' ')[0]} to every guest (docs/design.md lists the refused calls and why)`, allowWith: null, secret: false };
    case 'network':
      return s.network === 'host'
        ? { why: 'the host network refused it', allowWith: null, secret: false }
        : { why: `the sandbox's network is "${s.network}": ${s.network === 'none' ? 'no interface, not even loopback' : 'loopback only, no route out'}`, allowWith: s.network === 'none' ? '--network loopback (inside the sandbox) or --network host' : '--network host', secret: false };
    case 'limit':
      return { why: `a limit of the sandbox was reached: ${d.what}`, allowWith: limitFlag(d.what), secret: false };
  }
}

function limitFlag(what: string): string | null {
  if (/pids|fork|clone|thread/i.test(what)) return '--pids N (0: no limit)';
  if (/overlay/i.test(what) && /inode|node|files/i.test(what)) return '--overlay-inodes N';
  if (/overlay|space|ENOSPC/i.test(what)) return '--overlay-size SIZE';
  if (/memory/i.test(what)) return '--memory SIZE (0: no limit)';
  if (/open files|nofile|fd/i.test(what)) return '--open-files N';
  return null;
}

/** The name a process is shown by: its argv[0]'s file name or its executable's. */
export function processName(p: Pick<ProcessRecord, 'argv' | 'exe'> | undefined): string | null {
  const a = p?.argv?.[0] ?? p?.exe;
  return a ? path.basename(a) : null;
}

const sorted = (set: Set<string>) => [...set].sort();

export function buildReport(rec: Recorder, ctx: RunContext): TestRunReport {
  const s = ctx.sandbox;
  const procByPid = new Map<number, ProcessRecord>();
  for (const p of rec.processes) if (!procByPid.has(p.pid)) procByPid.set(p.pid, p);
  const nameOf = (pid: number) => processName(procByPid.get(pid));

  const groups = new Map<string, ReadGroup>();
  const written: WrittenPath[] = [];
  const writtenByTest = new Map<string, string[]>();
  for (const [p, r] of rec.paths) {
    const wops = Object.entries(r.ops).filter(([op]) => WRITE_OPS.has(op as FileOp));
    if (wops.length) {
      written.push({ path: p, target: writeTarget(p, s), ops: Object.fromEntries(wops), ...(r.to ? { to: r.to } : {}), tests: sorted(r.tests) });
      for (const t of r.tests) {
        const list = writtenByTest.get(t) ?? [];
        if (list.length < 50) list.push(p);
        writtenByTest.set(t, list);
      }
    }
    const reads = (r.ops.read ?? 0) + (r.ops.exec ?? 0);
    const looks = LOOK_OPS.reduce((n, op) => n + (r.ops[op] ?? 0), 0);
    if (!reads && !looks && !r.failed) continue;
    const dir = path.posix.dirname(p);
    const g = groups.get(dir) ?? { dir, area: readArea(p, ctx.cwd, s), reads: 0, looks: 0, misses: 0, files: [] };
    g.reads += reads;
    g.looks += looks;
    g.misses += r.failed;
    g.files.push({ name: path.posix.basename(p), reads, looks, misses: r.failed, tests: sorted(r.tests) });
    groups.set(dir, g);
  }
  const reads = [...groups.values()]
    .map((g) => ({ ...g, files: g.files.sort((a, b) => b.reads + b.looks - (a.reads + a.looks) || a.name.localeCompare(b.name)) }))
    .sort((a, b) => AREA_ORDER.indexOf(a.area) - AREA_ORDER.indexOf(b.area) || b.reads - a.reads || b.looks - a.looks || a.dir.localeCompare(b.dir));
  written.sort((a, b) => a.path.localeCompare(b.path));

  const denials: DenialReport[] = rec.denials.map((d) => ({
    pid: d.pid,
    process: nameOf(d.pid),
    rule: d.rule,
    what: d.what,
    ...(d.path !== undefined ? { path: d.path } : {}),
    errno: errnoName(d.errno),
    ...explainDenial(d, s),
    test: d.test,
  }));
  const network: NetworkReport[] = rec.network.map((n) => ({
    pid: n.pid,
    process: nameOf(n.pid),
    call: n.call,
    family: n.family,
    protocol: n.protocol,
    address: n.address,
    port: n.port,
    scope: scopeOf(n.call, n.family, n.address, s.network),
    outcome: n.errno === 0 ? 'ok' : errnoName(n.errno),
    test: n.test,
  }));
  const processes: ProcessReport[] = rec.processes.filter((p) => !p.tsvisorInit).map((p) => ({
    pid: p.pid,
    ppid: p.ppid,
    exe: p.exe,
    argv: p.argv,
    startMs: Math.max(0, p.start - ctx.startedAt),
    durationMs: p.end === null ? null : p.end - p.start,
    exit: p.exit ? { status: p.exit.status, signal: p.exit.signal ?? null } : null,
    peakRss: p.peakRss,
    leaked: p.leaked,
    test: p.test,
  }));
  const tests: TestReport[] = [...rec.tests.values()].map((t) => ({
    name: t.name,
    pid: t.pid,
    result: t.result,
    durationMs: t.end === null ? null : t.end - t.begin,
    reads: t.reads,
    writes: t.writes,
    network: t.network,
    denials: t.denials,
    processes: t.processes,
    written: writtenByTest.get(t.name) ?? [],
  }));

  const changed = ctx.changes ? ctx.changes.map((c) => ({ ...c, tests: sorted(rec.paths.get(c.path)?.tests ?? new Set()) })) : null;
  const counted = changed
    ? { written: changed.filter((c) => c.kind !== 'deleted').length, deleted: changed.filter((c) => c.kind === 'deleted').length }
    : {
        written: written.filter((w) => w.target === 'memory' || w.target === 'host').filter((w) => w.ops.write || w.ops.create || w.ops.rename || w.ops.attr).length,
        deleted: written.filter((w) => (w.target === 'memory' || w.target === 'host') && w.ops.delete).length,
      };
  const rssPeak = rec.processes.reduce<number | null>((m, p) => (p.peakRss === null ? m : Math.max(m ?? 0, p.peakRss)), null);
  const report: TestRunReport = {
    schema: TEST_REPORT_SCHEMA,
    tool: { name: 'tsvisor', version: ctx.version },
    command: ctx.command,
    cwd: ctx.cwd,
    startedAt: new Date(ctx.startedAt).toISOString(),
    durationMs: ctx.endedAt - ctx.startedAt,
    status: ctx.status,
    suite: { status: ctx.exit.status, signal: ctx.exit.signal ?? commandSignal(rec, ctx.exit.status), timedOut: ctx.timedOut },
    sandbox: s,
    summary: {
      filesWritten: counted.written,
      filesDeleted: counted.deleted,
      denials: denials.length + rec.dropped.denials,
      secretsRead: denials.filter((d) => d.secret).length,
      networkAttempts: network.length + rec.dropped.network,
      externalNetwork: network.filter((n) => n.scope === 'external').length,
      processes: processes.length + rec.dropped.processes,
      leakedProcesses: processes.filter((p) => p.leaked).length,
      peakMemory: ctx.peakMemory === null ? rssPeak : Math.max(ctx.peakMemory, rssPeak ?? 0),
    },
    writes: {
      changes: changed,
      ...(changed ? {} : { note: 'the sandbox had no in-memory overlay' }),
      paths: written,
      ...(ctx.exported ? { exported: ctx.exported } : {}),
    },
    reads,
    denials,
    network,
    processes,
    tests,
    syscalls: syscallSummary(ctx),
    failOn: { kinds: ctx.failOn, triggered: [] },
    dropped: { ...rec.dropped },
  };
  return report;
}

/**
 * The signal that killed the suite's command when tsvisor's init, its
 * parent, passed its death on as a status of 128+N (the sandbox's own exit
 * then carries no signal).
 */
function commandSignal(rec: Recorder, status: number): number | null {
  const init = rec.processes.find((p) => p.tsvisorInit);
  const command = init && rec.processes.find((p) => p.ppid === init.pid);
  const sig = command?.exit?.signal;
  return sig !== undefined && status === 128 + sig ? sig : null;
}

function syscallSummary(ctx: RunContext): SyscallSummary {
  const c = ctx.coverage;
  if (!c) return { available: false, why: ctx.coverageWhy ?? 'not collected' };
  return {
    available: true,
    calls: c.totals.calls,
    errors: c.totals.errors,
    top: c.syscalls.slice(0, 25).map((r) => ({ name: r.name, calls: r.calls, errors: r.errors, disposition: r.disposition, tsvisor: r.tsvisor })),
  };
}
