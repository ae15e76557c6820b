// A coverage run's report (schema.ts): the counted calls by syscall, by
// process and by executable, each with its disposition and support from
// syscall-tables/, split by argument class where support depends on one,
// and the verdicts "runs on gVisor?" and "runs on tsvisor?".
import { errnoName } from '../abi/errno.js';
import { GVISOR_PAGE, type Rule, type SyscallEntry, byNumber, gvisorLink, gvisorNote, gvisorSource, gvisorStatus } from '../syscalls/table.js';
import { decodeClass } from './arg-classes.js';
import { type CallCount, LAUNCHER_EXE, type ProcessInfo } from './collector.js';
import { type ArgClassRow, type ArgCondition, type Outcome, type Report, SCHEMA_VERSION, type SyscallRow, type Verdict, type VerdictItem } from './schema.js';

function nameOf(nr: number): string {
  return byNumber[nr]?.name ?? `syscall_${nr}`;
}

const emptyOutcome = (): Outcome => ({ calls: 0, errors: 0, errnos: {}, timeNs: 0, timed: 0 });

function addTo(o: Outcome, c: CallCount): void {
  o.calls += c.calls;
  o.timeNs += c.ns;
  o.timed += c.timed;
  if (c.errno) {
    o.errors += c.calls;
    const n = errnoName(c.errno);
    o.errnos[n] = (o.errnos[n] ?? 0) + c.calls;
  }
}

function sum(rows: Outcome[]): Outcome {
  const t = emptyOutcome();
  for (const r of rows) {
    t.calls += r.calls;
    t.errors += r.errors;
    t.timeNs += r.timeNs;
    t.timed += r.timed;
    for (const [k, n] of Object.entries(r.errnos)) t.errnos[k] = (t.errnos[k] ?? 0) + n;
  }
  return t;
}

const ACTION_DISPOSITION = { allow: 'passthrough', notify: 'emulate', trace: 'emulate', deny: 'deny' } as const;

/**
 * What the table's rules do with a class: the first rule that matches its
 * values decides, compared within the class's masks (an `equals` rule for
 * SOCK_RAW|SOCK_NONBLOCK matches the class SOCK_RAW; a `mask` rule matches
 * when it shares a bit with the class's value). A rule on an argument the
 * class does not hold cannot be decided from it: the call's own disposition
 * then stands.
 */
function classDisposition(e: SyscallEntry, args: ArgCondition[]): { disposition: ArgClassRow['disposition']; tsvisor: ArgClassRow['tsvisor']; rule?: string } {
  const own = { disposition: e.disposition, tsvisor: e.support } as const;
  for (const r of e.rules ?? []) {
    const a = args.find((x) => x.index === r.arg);
    if (!a) return own;
    if (!ruleMatches(r, a)) continue;
    const disposition = ACTION_DISPOSITION[r.action];
    return { disposition, tsvisor: r.support ?? (disposition === 'deny' ? 'none' : e.support), rule: r.why };
  }
  return own;
}

function ruleMatches(r: Rule, a: ArgCondition): boolean {
  if (r.mask !== undefined) return (BigInt(a.value) & BigInt(r.mask) & BigInt(a.mask)) !== 0n;
  if (r.equals !== undefined) return (BigInt(r.equals) & BigInt(a.mask)) === BigInt(a.value);
  return !r.notIn!.includes(a.value);
}

function rowsOf(counts: CallCount[]): SyscallRow[] {
  const by = new Map<number, SyscallRow & { byClass?: Map<bigint, ArgClassRow> }>();
  for (const c of counts) {
    let r = by.get(c.nr);
    if (!r) {
      const e = byNumber[c.nr];
      r = {
        name: nameOf(c.nr), nr: c.nr, ...emptyOutcome(),
        disposition: !e ? 'deny' : e.rules?.length ? 'by argument' : e.disposition,
        tsvisor: e?.support ?? 'none',
        gvisor: byNumber[c.nr] ? gvisorStatus(nameOf(c.nr)) : 'unknown',
        note: e?.notes ?? 'not a Linux x86_64 system call: ENOSYS',
      };
      by.set(c.nr, r);
    }
    addTo(r, c);
    const cls = c.cls === null ? null : decodeClass(c.nr, c.cls);
    if (cls) {
      r.byClass ??= new Map();
      let k = r.byClass.get(c.cls!);
      if (!k) {
        k = { ...cls, ...emptyOutcome(), ...classDisposition(byNumber[c.nr]!, cls.args) };
        r.byClass.set(c.cls!, k);
      }
      addTo(k, c);
    }
  }
  return [...by.values()].map(({ byClass, ...r }) => {
    if (byClass) r.classes = [...byClass.values()].sort((a, b) => b.calls - a.calls || a.name.localeCompare(b.name));
    return r;
  }).sort((a, b) => b.calls - a.calls || a.name.localeCompare(b.name));
}

const SEVERITY: Record<VerdictItem['support'], number> = { none: 3, unsupported: 3, unimplemented: 3, unknown: 2, partial: 1 };

/** What happened to these calls in this run, in one sentence. */
function observed(o: Outcome): string {
  const calls = `${o.calls} call${o.calls === 1 ? '' : 's'}`;
  if (!o.errors) return `${calls}, all succeeded here`;
  const errs = Object.entries(o.errnos).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  if (o.errors === o.calls) return `${calls}, every one failed (${errs})`;
  return `${calls}, ${o.errors} failed (${errs})`;
}

function item(r: SyscallRow, o: Outcome, support: VerdictItem['support'], note: string, exitStatus: number, cls?: string): VerdictItem {
  // Unsupported above partial; then how often the program asked.
  const weight = SEVERITY[support] * 100 + Math.min(99, Math.round(10 * Math.log10(1 + o.calls)));
  // A refusal the program survived (it fell back, or did without): said so.
  const went = o.errors && exitStatus === 0 ? '; the program still exited 0' : '';
  return { syscall: r.name, nr: r.nr, ...(cls === undefined ? {} : { class: cls }), support, calls: o.calls, errors: o.errors, errnos: o.errnos, observed: observed(o) + went, note, weight };
}

function verdict(items: VerdictItem[], who: string): Verdict {
  items.sort((a, b) => b.weight - a.weight || a.syscall.localeCompare(b.syscall));
  const bad = items.filter((i) => SEVERITY[i.support] > 1);
  const answer = bad.length ? 'no' : items.length ? 'partial' : 'yes';
  const summary = answer === 'yes'
    ? `every call used is fully supported by ${who}`
    : answer === 'partial'
      ? `${items.length} call${items.length === 1 ? '' : 's'} used ${items.length === 1 ? 'is' : 'are'} only partially supported by ${who}`
      : `${bad.length} call${bad.length === 1 ? '' : 's'} or argument class${bad.length === 1 ? '' : 'es'} used ${bad.length === 1 ? 'is' : 'are'} not supported by ${who}${items.length > bad.length ? `, ${items.length - bad.length} partially` : ''}`;
  return { answer, summary, items };
}

/** The gVisor verdict's note: the status in words, then for a partial or unsupported call what gVisor leaves out (gvisor.json's notes). */
const GVISOR_NOTE: Record<string, string> = {
  partial: 'gVisor: partially supported',
  unsupported: 'gVisor: returns an error',
  unimplemented: 'gVisor: not implemented (ENOSYS)',
  unknown: 'not a Linux x86_64 system call',
};

/**
 * "Runs on gVisor?" from gVisor's per-call status; "runs on tsvisor?" from
 * the table's support and, for calls split by argument class, each class's
 * (a class a rule denies is unsupported, whatever the call's level).
 */
function verdicts(rows: SyscallRow[], exitStatus: number): Report['verdicts'] {
  const g: VerdictItem[] = [];
  const t: VerdictItem[] = [];
  for (const r of rows) {
    if (r.gvisor !== 'full') {
      const link = r.gvisor === 'unknown' ? undefined : gvisorLink(r.name);
      const what = r.gvisor === 'unknown' ? undefined : gvisorNote(r.name);
      g.push({ ...item(r, r, r.gvisor, `${GVISOR_NOTE[r.gvisor]!}${what ? `: ${what}` : ''}`, exitStatus), ...(link ? { link } : {}) });
    }
    const classes = r.classes?.filter((c) => c.tsvisor !== r.tsvisor) ?? [];
    for (const c of classes) if (c.tsvisor !== 'full') t.push(item(r, c, c.tsvisor, c.rule ?? r.note, exitStatus, c.name));
    if (r.tsvisor !== 'full') {
      const rest = sum((r.classes ?? []).filter((c) => c.tsvisor === r.tsvisor));
      const o = r.classes && classes.length ? rest : r;
      if (o.calls) t.push(item(r, o, r.tsvisor, r.note, exitStatus));
    }
  }
  return { gvisor: verdict(g, 'gVisor'), tsvisor: verdict(t, 'tsvisor') };
}

/**
 * The report. The launcher's own calls (tsvisor's set-up in the sandbox's
 * first process, before the command's exec) are not the command's: left out.
 */
export function buildReport(command: string[], exitStatus: number, counts: CallCount[], processes: Map<number, ProcessInfo>, truncated: boolean, version: string): Report {
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
    const p = procs.get(c.tgid);
    if (p) p.push(c);
    else procs.set(c.tgid, [c]);
  }
  const pidOf = (tgid: number | null) => (tgid === null ? null : processes.get(tgid)?.pid ?? null);
  return {
    schema: SCHEMA_VERSION,
    tool: { name: 'tsvisor', version, gvisorTable: gvisorSource() ?? 'none' },
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
    verdicts: verdicts(syscalls, exitStatus),
    audit: null,
  };
}

const usecs = (o: Outcome) => (o.timed ? (o.timeNs / 1000).toFixed(0) : '');
const perCall = (o: Outcome) => (o.timed ? (o.timeNs / 1000 / o.timed).toFixed(2) : '');

function table(lines: string[], head: string[], cells: string[][], right: number): void {
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const fmt = (c: string[]) => c.map((x, i) => (i < right ? x.padStart(w[i]!) : x.padEnd(w[i]!))).join('  ').trimEnd();
  lines.push(fmt(head), w.map((n) => '-'.repeat(n)).join('  '));
  for (const c of cells.slice(0, -1)) lines.push(fmt(c));
  lines.push(w.map((n) => '-'.repeat(n)).join('  '), fmt(cells[cells.length - 1]!));
}

function formatVerdict(lines: string[], title: string, v: Verdict): void {
  lines.push('', `${title} ${v.answer}: ${v.summary}`);
  const shown = v.items.slice(0, 15);
  for (const i of shown) lines.push(`  ${i.support.padEnd(13)} ${i.syscall}${i.class ? ` ${i.class}` : ''}: ${i.observed}${i.note ? ` (${i.note.length > 160 ? `${i.note.slice(0, 157)}...` : i.note})` : ''}`);
  if (v.items.length > shown.length) lines.push(`  ... ${v.items.length - shown.length} more in the JSON report`);
}

/** The terminal summary: a table like `strace -c`'s, the argument classes, the split per executable and per process, then the verdicts. */
export function formatReport(r: Report): string {
  const lines: string[] = [];
  const head = ['calls', 'errors', 'usecs', 'usecs/call', 'syscall', 'disposition', 'tsvisor', 'gVisor'];
  const cells = r.syscalls.map((s) => [String(s.calls), s.errors ? String(s.errors) : '', usecs(s), perCall(s), s.name, s.disposition, s.tsvisor, s.gvisor]);
  cells.push([String(r.totals.calls), String(r.totals.errors), usecs(r.totals), '', 'total', '', '', '']);
  table(lines, head, cells, 4);
  const classified = r.syscalls.filter((s) => s.classes?.length);
  if (classified.length) {
    lines.push('', 'by argument class (calls, errors; "denied": refused by a rule of the table):');
    const w = Math.max(...classified.map((s) => s.name.length));
    for (const s of classified) {
      const shown = s.classes!.slice(0, 8).map((c) => {
        const errs = Object.entries(c.errnos).map(([k, n]) => `${k} ${n}`).join(', ');
        return `${c.name} ${c.calls}${errs ? ` (${errs})` : ''}${c.tsvisor === 'none' ? ' denied' : ''}`;
      });
      if (s.classes!.length > shown.length) shown.push(`${s.classes!.length - shown.length} more`);
      lines.push(`  ${s.name.padEnd(w)}  ${shown.join(', ')}`);
    }
  }
  if (r.executables.length > 1) {
    lines.push('', 'by executable:');
    for (const e of r.executables) lines.push(`  ${String(e.calls).padStart(8)} calls ${String(e.errors).padStart(6)} errors  ${e.processes} process${e.processes > 1 ? 'es' : ''}  ${e.path}`);
  }
  if (r.processes.length > 1) {
    lines.push('', 'by process (pid in the sandbox, parent, executables):');
    for (const p of r.processes) lines.push(`  ${String(p.calls).padStart(8)} calls ${String(p.errors).padStart(6)} errors  pid ${p.pid} (parent ${p.parentPid ?? '-'})  ${p.executables.join(' -> ')}`);
  }
  formatVerdict(lines, 'runs on gVisor?', r.verdicts.gvisor);
  if (r.verdicts.gvisor.items.some((i) => i.link)) lines.push(`  (gVisor's page for a call: ${GVISOR_PAGE}#NAME)`);
  formatVerdict(lines, 'runs on tsvisor?', r.verdicts.tsvisor);
  if (r.truncated) lines.push('', 'warning: the run outgrew the report\'s bounds: some calls are missing or not attributed');
  return `${lines.join('\n')}\n`;
}
