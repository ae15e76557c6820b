// A coverage run's report: the counted calls by syscall, by process and by
// executable, with each call's disposition and support from syscall-tables/.
import { errnoName } from '../abi/errno.js';
import { byNumber, gvisorStatus } from '../syscalls/table.js';
import { type CallCount, LAUNCHER_EXE, type ProcessInfo } from './collector.js';

export const SCHEMA_VERSION = 1;

export interface SyscallRow {
  name: string;
  nr: number;
  calls: number;
  errors: number;
  /** errno name -> calls that failed with it */
  errnos: Record<string, number>;
  /** syscall-tables/' disposition; 'by argument' when its rules decide per call */
  disposition: string;
  tsvisor: string;
  gvisor: string;
}

export interface Report {
  schema: number;
  command: string[];
  exitStatus: number;
  /** a bound was reached (distinct rows, processes, execs of a process): some calls are missing or unattributed */
  truncated: boolean;
  totals: { calls: number; errors: number };
  syscalls: SyscallRow[];
  executables: { path: string; processes: number; calls: number; errors: number; syscalls: SyscallRow[] }[];
  processes: { pid: number; parentPid: number | null; executables: string[]; calls: number; errors: number; syscalls: SyscallRow[] }[];
}

function nameOf(nr: number): string {
  return byNumber[nr]?.name ?? `syscall_${nr}`;
}

function rowsOf(counts: CallCount[]): SyscallRow[] {
  const by = new Map<number, SyscallRow>();
  for (const c of counts) {
    let r = by.get(c.nr);
    if (!r) {
      const e = byNumber[c.nr];
      r = {
        name: nameOf(c.nr), nr: c.nr, calls: 0, errors: 0, errnos: {},
        disposition: !e ? 'deny' : e.rules?.length ? 'by argument' : e.disposition,
        tsvisor: e?.support ?? 'none',
        gvisor: gvisorStatus(nameOf(c.nr)),
      };
      by.set(c.nr, r);
    }
    r.calls += c.calls;
    if (c.errno) {
      r.errors += c.calls;
      const n = errnoName(c.errno);
      r.errnos[n] = (r.errnos[n] ?? 0) + c.calls;
    }
  }
  return [...by.values()].sort((a, b) => b.calls - a.calls || a.name.localeCompare(b.name));
}

function sum(rows: SyscallRow[]): { calls: number; errors: number } {
  return rows.reduce((t, r) => ({ calls: t.calls + r.calls, errors: t.errors + r.errors }), { calls: 0, errors: 0 });
}

/**
 * The report. The launcher's own calls (tsvisor's set-up in the sandbox's
 * first process, before the command's exec) are not the command's: left out.
 */
export function buildReport(command: string[], exitStatus: number, counts: CallCount[], processes: Map<number, ProcessInfo>, truncated: boolean): Report {
  const exeOf = (c: CallCount) => processes.get(c.tgid)?.exes[c.gen] ?? '?';
  const guest = counts.filter((c) => exeOf(c) !== LAUNCHER_EXE);
  const syscalls = rowsOf(guest);
  const exes = new Map<string, { rows: CallCount[]; procs: Set<number> }>();
  const procs = new Map<number, CallCount[]>();
  for (const c of guest) {
    const path = exeOf(c);
    const e = exes.get(path) ?? { rows: [], procs: new Set() };
    e.rows.push(c);
    e.procs.add(c.tgid);
    exes.set(path, e);
    procs.set(c.tgid, [...(procs.get(c.tgid) ?? []), c]);
  }
  const pidOf = (tgid: number | null) => (tgid === null ? null : processes.get(tgid)?.pid ?? null);
  return {
    schema: SCHEMA_VERSION,
    command,
    exitStatus,
    truncated,
    totals: sum(syscalls),
    syscalls,
    executables: [...exes].map(([path, e]) => {
      const rows = rowsOf(e.rows);
      return { path, processes: e.procs.size, ...sum(rows), syscalls: rows };
    }).sort((a, b) => b.calls - a.calls),
    processes: [...procs].map(([tgid, cs]) => {
      const p = processes.get(tgid);
      const rows = rowsOf(cs);
      return { pid: p?.pid ?? -1, parentPid: pidOf(p?.parent ?? null), executables: (p?.exes ?? []).filter((x) => x !== LAUNCHER_EXE), ...sum(rows), syscalls: rows };
    }).sort((a, b) => a.pid - b.pid),
  };
}

/** The terminal summary: a table like `strace -c`'s, then the split per executable and per process. */
export function formatReport(r: Report): string {
  const lines: string[] = [];
  const head = ['calls', 'errors', 'syscall', 'disposition', 'tsvisor', 'gVisor'];
  const table = (rows: SyscallRow[]) => {
    const cells = rows.map((s) => [String(s.calls), s.errors ? String(s.errors) : '', s.name, s.disposition, s.tsvisor, s.gvisor]);
    const t = sum(rows);
    cells.push([String(t.calls), String(t.errors), 'total', '', '', '']);
    const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
    const fmt = (c: string[]) => c.map((x, i) => (i < 2 ? x.padStart(w[i]!) : x.padEnd(w[i]!))).join('  ').trimEnd();
    lines.push(fmt(head), w.map((n) => '-'.repeat(n)).join('  '));
    for (const c of cells.slice(0, -1)) lines.push(fmt(c));
    lines.push(w.map((n) => '-'.repeat(n)).join('  '), fmt(cells[cells.length - 1]!));
  };
  table(r.syscalls);
  if (r.executables.length > 1) {
    lines.push('', 'by executable:');
    for (const e of r.executables) lines.push(`  ${String(e.calls).padStart(8)} calls ${String(e.errors).padStart(6)} errors  ${e.processes} process${e.processes > 1 ? 'es' : ''}  ${e.path}`);
  }
  if (r.processes.length > 1) {
    lines.push('', 'by process (pid in the sandbox, parent, executables):');
    for (const p of r.processes) lines.push(`  ${String(p.calls).padStart(8)} calls ${String(p.errors).padStart(6)} errors  pid ${p.pid} (parent ${p.parentPid ?? '-'})  ${p.executables.join(' -> ')}`);
  }
  if (r.truncated) lines.push('', 'warning: the run outgrew the report\'s bounds: some calls are missing or not attributed');
  return `${lines.join('\n')}\n`;
}
