// `tsvisor coverage diff`: what changed between two coverage reports, and
// whether the new run asks for something the old one did not that gVisor or
// tsvisor does not fully support (a CI gate).
import type { ArgClassRow, Report, SyscallRow } from './schema.js';

export interface DiffOptions {
  /** a count changes beyond noise when it moves by more than this fraction of the larger count... */
  relative: number;
  /** ...and by more than this many calls */
  absolute: number;
  /** only unsupported calls fail the gate, not partially supported ones */
  allowPartial: boolean;
}

export interface Used {
  syscall: string;
  class?: string;
  calls: number;
  errnos: Record<string, number>;
  tsvisor: string;
  gvisor: string;
}

export interface Changed {
  syscall: string;
  class?: string;
  old: number;
  new: number;
  what: 'calls' | 'errors';
}

export interface Diff {
  added: Used[];
  gone: Used[];
  changed: Changed[];
  /** added calls (or classes) gVisor does not fully support */
  newGvisorUnsupported: Used[];
  /** what fails the gate: added, and not fully supported by gVisor or tsvisor (allowPartial: not supported at all) */
  gate: Used[];
}

const used = (r: SyscallRow, c?: ArgClassRow): Used => ({
  syscall: r.name,
  ...(c ? { class: c.name } : {}),
  calls: (c ?? r).calls,
  errnos: (c ?? r).errnos,
  tsvisor: (c ?? r).tsvisor,
  gvisor: r.gvisor,
});

/** Every call and every class of a report, by "name" and "name class". */
function index(r: Report): Map<string, { row: SyscallRow; cls?: ArgClassRow }> {
  const m = new Map<string, { row: SyscallRow; cls?: ArgClassRow }>();
  for (const row of r.syscalls) {
    m.set(row.name, { row });
    for (const cls of row.classes ?? []) m.set(`${row.name} ${cls.name}`, { row, cls });
  }
  return m;
}

export function diffReports(a: Report, b: Report, o: DiffOptions): Diff {
  const old = index(a);
  const now = index(b);
  const d: Diff = { added: [], gone: [], changed: [], newGvisorUnsupported: [], gate: [] };
  const notFull = (s: string) => (o.allowPartial ? s !== 'full' && s !== 'partial' : s !== 'full');
  for (const [key, { row, cls }] of now) {
    const was = old.get(key);
    const u = used(row, cls);
    if (!was) {
      d.added.push(u);
      if (row.gvisor !== 'full') d.newGvisorUnsupported.push(u);
      if (notFull(u.gvisor) || notFull(u.tsvisor)) d.gate.push(u);
      continue;
    }
    const before = was.cls ?? was.row;
    const after = cls ?? row;
    for (const what of ['calls', 'errors'] as const) {
      const x = before[what];
      const y = after[what];
      if (Math.abs(y - x) > o.absolute && Math.abs(y - x) > o.relative * Math.max(x, y)) d.changed.push({ syscall: row.name, ...(cls ? { class: cls.name } : {}), old: x, new: y, what });
    }
  }
  for (const [key, { row, cls }] of old) if (!now.has(key)) d.gone.push(used(row, cls));
  return d;
}

const label = (u: { syscall: string; class?: string }) => (u.class ? `${u.syscall} ${u.class}` : u.syscall);
const errs = (e: Record<string, number>) => {
  const s = Object.entries(e).map(([k, n]) => `${k} ${n}`).join(', ');
  return s ? `; errors ${s}` : '';
};

export function formatDiff(d: Diff): string {
  const lines: string[] = [];
  const section = (title: string, items: string[]) => {
    if (items.length) lines.push(`${title}:`, ...items.map((x) => `  ${x}`), '');
  };
  section('added', d.added.map((u) => `+ ${label(u)}: ${u.calls} call${u.calls === 1 ? '' : 's'}${errs(u.errnos)} (tsvisor ${u.tsvisor}, gVisor ${u.gvisor})`));
  section('gone', d.gone.map((u) => `- ${label(u)}: ${u.calls} call${u.calls === 1 ? '' : 's'} before`));
  section('changed beyond noise', d.changed.map((c) => `~ ${label(c)}: ${c.what} ${c.old} -> ${c.new}`));
  section('new calls gVisor does not fully support', d.newGvisorUnsupported.map((u) => `! ${label(u)} (gVisor ${u.gvisor})`));
  if (!d.added.length && !d.gone.length && !d.changed.length) lines.push('no difference beyond noise', '');
  lines.push(d.gate.length
    ? `FAIL: the new run uses ${d.gate.length} call${d.gate.length === 1 ? '' : 's'} or argument class${d.gate.length === 1 ? '' : 'es'} the old one did not that gVisor or tsvisor does not fully support: ${d.gate.map(label).join(', ')}`
    : 'ok: nothing new that gVisor or tsvisor does not fully support');
  return `${lines.join('\n')}\n`;
}
