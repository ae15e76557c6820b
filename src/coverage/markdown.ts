// The coverage report as Markdown for a pull-request comment (--markdown
// FILE): the verdicts first, the busiest calls in a table, the rest folded
// away in <details> (GitHub and GitLab render both).
import { duration } from './html.js';
import type { Audit, Outcome, Report, SyscallRow, Verdict } from './schema.js';

/** A table cell: pipes escaped, no line breaks. */
export const cell = (s: string) => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
export const code = (s: string) => `\`${s.replace(/`/g, "'")}\``;
const int = (n: number) => n.toLocaleString('en-US');
const ANSWER = { yes: '✅ yes', partial: '⚠️ partly', no: '❌ no' } as const;

/** Rows shown before the fold. */
const TOP = 15;

function errnos(o: Outcome): string {
  return Object.entries(o.errnos).sort((a, b) => b[1] - a[1]).map(([e, n]) => `${e} ${int(n)}`).join(', ');
}

function rowLines(rows: SyscallRow[]): string[] {
  const out = ['| syscall | calls | errors | time | disposition | tsvisor | gVisor |', '|---|---:|---|---:|---|---|---|'];
  for (const s of rows) {
    out.push(`| ${code(s.name)} | ${int(s.calls)} | ${cell(errnos(s))} | ${s.timed ? duration(s.timeNs) : ''} | ${s.disposition} | ${s.tsvisor} | ${s.gvisor} |`);
    for (const c of s.classes ?? []) out.push(`| ↳ ${cell(`${c.kind} ${c.name}`)} | ${int(c.calls)} | ${cell(errnos(c))} | ${c.timed ? duration(c.timeNs) : ''} | ${c.disposition} | ${c.tsvisor} | |`);
  }
  return out;
}

function verdictLines(title: string, v: Verdict): string[] {
  const out = [`**${title}** ${ANSWER[v.answer]}: ${v.summary}`];
  if (v.items.length) {
    out.push('');
    for (const i of v.items.slice(0, 10)) out.push(`- ${code(i.syscall)}${i.class ? ` ${code(i.class)}` : ''} (${i.support}): ${cell(i.observed)}${i.note ? ` — ${cell(i.note)}` : ''}${i.link ? ` ([gVisor](${i.link}))` : ''}`);
    if (v.items.length > 10) out.push(`- … ${v.items.length - 10} more in the full report`);
  }
  return out;
}

function auditLines(a: Audit): string[] {
  const out = [`**Audit against ${code(a.profile)}** (nothing was refused in this run): `];
  if (a.items.length === 0) {
    out[0] += 'the profile allows every call the run made.';
    return out;
  }
  const blocked = a.items.filter((i) => i.verdict === 'blocked');
  out[0] += `it would have refused ${blocked.length} kind${blocked.length === 1 ? '' : 's'} of call${a.items.length > blocked.length ? `, and may refuse ${a.items.length - blocked.length} more by arguments coverage does not record` : ''}.`;
  out.push('', '| call | would have got | calls | errnos in this run |', '|---|---|---:|---|');
  for (const i of a.items) out.push(`| ${cell(`${code(i.syscall)}${i.class ? ` ${code(i.class)}` : ''}`)} | ${cell(i.verdict === 'blocked' ? i.answer : `depends on arguments: ${i.answer}`)} | ${int(i.calls)} | ${cell(errnos(i))} |`);
  return out;
}

export function renderMarkdown(r: Report): string {
  const t = r.totals;
  const out = [
    `### Syscall coverage: ${code(r.command.join(' '))}`,
    '',
    `${int(t.calls)} calls of ${r.syscalls.length} kinds, ${int(t.errors)} failed${t.timed ? `, ${duration(t.timeNs)} in calls` : ''}; ${r.processes.length} process${r.processes.length === 1 ? '' : 'es'}, ${r.executables.length} executable${r.executables.length === 1 ? '' : 's'}; exit status ${r.exitStatus}.`,
    '',
    ...verdictLines('Runs on gVisor?', r.verdicts.gvisor),
    '',
    ...verdictLines('Runs on tsvisor?', r.verdicts.tsvisor),
    '',
    ...(r.audit ? [...auditLines(r.audit), ''] : []),
    ...rowLines(r.syscalls.slice(0, TOP)),
  ];
  if (r.syscalls.length > TOP) {
    out.push('', `<details><summary>${r.syscalls.length - TOP} more calls</summary>`, '', ...rowLines(r.syscalls.slice(TOP)), '', '</details>');
  }
  if (r.executables.length > 1 || r.processes.length > 1) {
    out.push('', '<details><summary>By executable and process</summary>', '', '| executable | processes | calls | errors |', '|---|---:|---:|---:|');
    for (const e of r.executables) out.push(`| ${code(e.path)} | ${e.processes} | ${int(e.calls)} | ${int(e.errors)} |`);
    out.push('', '| pid | parent | executables | calls | errors |', '|---:|---:|---|---:|---:|');
    for (const p of r.processes) out.push(`| ${p.pid} | ${p.parentPid ?? '-'} | ${cell(p.executables.map(code).join(' → '))} | ${int(p.calls)} | ${int(p.errors)} |`);
    out.push('', '</details>');
  }
  if (r.truncated) out.push('', '> **Warning:** the run outgrew the report\'s bounds: some calls are missing or not attributed.');
  out.push('', `<sub>${r.tool.name} ${r.tool.version}, gVisor table ${r.tool.gvisorTable}</sub>`);
  return `${out.join('\n')}\n`;
}
