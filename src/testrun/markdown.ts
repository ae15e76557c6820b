// The `tsvisor test` report as Markdown for a pull-request comment
// (report.md): the outcome and what needs a look first (--fail-on,
// secrets, network out, leaked processes, denials), the rest folded into
// <details>.
import { cell, code } from '../coverage/markdown.js';
import type { TestRunReport } from './report.js';
import { bytes, elapsed, outcome } from './summary.js';

/** Rows shown in a table before the rest is left to the full report. */
const TOP = 20;

function more(n: number): string[] {
  return n > TOP ? [`\n… ${n - TOP} more in report.json`] : [];
}

function table(head: string[], rows: string[][]): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.slice(0, TOP).map((r) => `| ${r.map(cell).join(' | ')} |`), ...more(rows.length)];
}

function details(title: string, body: string[]): string[] {
  return ['', `<details><summary>${title}</summary>`, '', ...body, '', '</details>'];
}

export function renderMarkdown(r: TestRunReport): string {
  const s = r.summary;
  const out = [
    `### tsvisor test: ${code(r.command.join(' '))}`,
    '',
    `The suite ${outcome(r)} in ${elapsed(r.durationMs)}${s.peakMemory === null ? '' : ` (peak memory ${bytes(s.peakMemory)})`}; tsvisor's status: **${r.status}**.`,
    '',
    `| written | deleted | denials | secret reads | network attempts | outside the sandbox | processes | left running |`,
    `|---:|---:|---:|---:|---:|---:|---:|---:|`,
    `| ${s.filesWritten} | ${s.filesDeleted} | ${s.denials} | ${s.secretsRead} | ${s.networkAttempts} | ${s.externalNetwork} | ${s.processes} | ${s.leakedProcesses} |`,
  ];
  if (r.failOn.triggered.length) {
    out.push('', `**--fail-on** (${r.failOn.kinds.join(', ')}):`, '');
    for (const t of r.failOn.triggered) out.push(`- ❌ ${code(t.kind)}: ${t.count}, e.g. ${cell(t.example)}`);
  }
  if (r.denials.length) {
    out.push('', '#### Denials', '', ...table(['what', 'process', 'test', 'why', 'allow with'], r.denials.map((d) => [`${d.secret ? '🔑 ' : ''}${code(d.what)}`, d.process ?? String(d.pid), d.test ?? '', `${d.why} (${d.errno})`, d.allowWith ? code(d.allowWith) : 'no flag'])));
  }
  if (r.network.length) {
    out.push('', '#### Network', '', ...table(['call', 'address', 'scope', 'process', 'test', 'outcome'], r.network.map((n) => [`${n.call} ${n.protocol}`, code(`${n.address}${n.port === null ? '' : `:${n.port}`}`), n.scope, n.process ?? String(n.pid), n.test ?? '', n.outcome])));
  }
  const leaked = r.processes.filter((p) => p.leaked);
  if (leaked.length) {
    out.push('', '#### Processes left running (stopped by tsvisor)', '', ...table(['pid', 'command', 'started in'], leaked.map((p) => [String(p.pid), code((p.argv ?? [p.exe ?? '?']).join(' ')), p.test ?? ''])));
  }
  const w = r.writes;
  if (w.changes) {
    out.push(...details(`Files changed (${w.changes.length}, kept in memory)`, w.changes.length ? table(['path', 'change', 'size', 'tests'], w.changes.map((c) => [code(c.path), c.kind, c.size === null ? '' : bytes(c.size), c.tests.join(', ')])) : ['None.']));
  }
  const paths = w.paths.filter((p) => p.target !== 'pseudo');
  out.push(...details(`Paths written (${paths.length})`, paths.length ? table(['path', 'went to', 'operations', 'tests'], paths.map((p) => [code(p.path), p.target, Object.entries(p.ops).map(([op, n]) => `${op} ${n}`).join(', '), p.tests.join(', ')])) : ['None.']));
  out.push(...details(`Reads by directory (${r.reads.length}; outside the project and the system first)`, table(['directory', 'area', 'reads', 'looks', 'misses'], r.reads.map((g) => [code(g.dir), g.area, String(g.reads), String(g.looks), String(g.misses)]))));
  if (r.tests.length) {
    out.push(...details(`Tests (${r.tests.length})`, table(['test', 'result', 'time', 'reads', 'writes', 'network', 'denials', 'processes'], r.tests.map((t) => [t.name, t.result ?? '', t.durationMs === null ? '' : elapsed(t.durationMs), String(t.reads), String(t.writes), String(t.network), String(t.denials), String(t.processes)]))));
  }
  out.push(...details('Syscalls', r.syscalls.available ? [`${r.syscalls.calls} calls, ${r.syscalls.errors} failed.`, '', ...table(['syscall', 'calls', 'errors', 'disposition'], r.syscalls.top.map((c) => [code(c.name), String(c.calls), String(c.errors), c.disposition]))] : [`Not available: ${r.syscalls.why}.`]));
  out.push('', `<sub>tsvisor ${r.tool.version} · report schema ${r.schema} · network ${r.sandbox.network} · ${r.sandbox.hidden.length} paths hidden</sub>`, '');
  return out.join('\n');
}
