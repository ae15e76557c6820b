// The `tsvisor test` report as one self-contained HTML page (report.html):
// the coverage report's style and charts, no script, no external resource.
import { CSS, barChart, esc, int } from '../coverage/html.js';
import type { ProcessReport, TestRunReport } from './report.js';
import { bytes, elapsed, outcome } from './summary.js';

const EXTRA_CSS = `
.bad{color:#8a1f1f;font-weight:600}
.tag.memory{background:#e3edf8}.tag.host{background:#fbf0c4}.tag.tmp,.tag.pseudo{background:#eee}
.tag.outside{background:#fbdcdc;color:#8a1f1f}.tag.external{background:#fbdcdc;color:#8a1f1f}.tag.leaked{background:#fbdcdc;color:#8a1f1f}
ul.tree{list-style:none;padding-left:18px;margin:4px 0}ul.tree li{margin:2px 0}
pre.diff{background:#fafbfc;border:1px solid var(--line);padding:8px;overflow-x:auto;font-size:12px}
details.dir>summary{cursor:pointer;padding:3px 0}
`;

const argvOf = (p: { argv: string[] | null; exe: string | null }) => (p.argv ?? [p.exe ?? '?']).join(' ');

function tableOf(cls: string, head: string[], rows: string[][]): string {
  if (rows.length === 0) return '<p class="none">None.</p>';
  return `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** The process tree: each process under its parent, the suite's roots first. */
function tree(procs: ProcessReport[]): string {
  const children = new Map<number, ProcessReport[]>();
  const pids = new Set(procs.map((p) => p.pid));
  const roots: ProcessReport[] = [];
  for (const p of procs) {
    if (pids.has(p.ppid) && p.ppid !== p.pid) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
    else roots.push(p);
  }
  const seen = new Set<ProcessReport>();
  const item = (p: ProcessReport): string => {
    if (seen.has(p)) return '';
    seen.add(p);
    const exit = p.exit ? (p.exit.signal ? `signal ${p.exit.signal}` : `status ${p.exit.status}`) : 'running';
    const facts = [exit, p.durationMs === null ? '' : elapsed(p.durationMs), p.peakRss === null ? '' : `peak ${bytes(p.peakRss)}`, p.test ? `in ${esc(p.test)}` : ''].filter(Boolean).join(' · ');
    const kids = (children.get(p.pid) ?? []).filter((c) => c.startMs >= p.startMs).map(item).join('');
    return `<li>${p.leaked ? '<span class="tag leaked">left running</span> ' : ''}<code>${p.pid}</code> <code>${esc(argvOf(p))}</code> <span class="none">${facts}</span>${kids ? `<ul class="tree">${kids}</ul>` : ''}</li>`;
  };
  const html = roots.map(item).join('');
  return html ? `<ul class="tree">${html}</ul>` : '<p class="none">None.</p>';
}

export function renderHtml(r: TestRunReport): string {
  const s = r.summary;
  const command = r.command.join(' ');
  const stats: [string, string][] = [
    ['status', String(r.status)], ['time', elapsed(r.durationMs)], ['files written', int(s.filesWritten)], ['deleted', int(s.filesDeleted)],
    ['denials', int(s.denials)], ['secret reads', int(s.secretsRead)], ['network attempts', int(s.networkAttempts)], ['processes', int(s.processes)],
    ['left running', int(s.leakedProcesses)], ['peak memory', s.peakMemory === null ? '-' : bytes(s.peakMemory)],
  ];
  const failOn = r.failOn.triggered.length
    ? `<p class="warn">--fail-on: ${r.failOn.triggered.map((t) => `<b>${esc(t.kind)}</b> ${t.count} (e.g. ${esc(t.example)})`).join('; ')}</p>`
    : '';
  const denials = tableOf('denials', ['what', 'process', 'test', 'rule', 'errno', 'why', 'allow with'], r.denials.map((d) => [
    `${d.secret ? '<span class="bad">secret</span> ' : ''}<code>${esc(d.what)}</code>`, esc(d.process ?? String(d.pid)), esc(d.test ?? ''), esc(d.rule), esc(d.errno), esc(d.why), d.allowWith ? `<code>${esc(d.allowWith)}</code>` : 'no flag',
  ]));
  const network = tableOf('network', ['call', 'protocol', 'address', 'scope', 'process', 'test', 'outcome'], r.network.map((n) => [
    esc(n.call), esc(`${n.family} ${n.protocol}`), `<code>${esc(`${n.address}${n.port === null ? '' : `:${n.port}`}`)}</code>`, `<span class="tag ${esc(n.scope)}">${esc(n.scope)}</span>`, esc(n.process ?? String(n.pid)), esc(n.test ?? ''), esc(n.outcome),
  ]));
  const changes = r.writes.changes
    ? tableOf('changes', ['path', 'change', 'type', 'size', 'tests', 'diff'], r.writes.changes.map((c) => [
        `<code>${esc(c.path)}</code>`, esc(c.kind), esc(c.type), c.size === null ? '' : bytes(c.size), esc(c.tests.join(', ')),
        c.diff ? `<details><summary>diff${c.diffTruncated ? ' (cut)' : ''}</summary><pre class="diff">${esc(c.diff)}</pre></details>` : c.binary ? 'binary' : '',
      ]))
    : `<p class="none">${esc(r.writes.note ?? 'Not collected.')}</p>`;
  const paths = tableOf('written', ['path', 'went to', 'operations', 'tests'], r.writes.paths.map((p) => [
    `<code>${esc(p.path)}</code>${p.to ? ` → <code>${esc(p.to)}</code>` : ''}`, `<span class="tag ${p.target}">${p.target}</span>`, esc(Object.entries(p.ops).map(([op, n]) => `${op} ${n}`).join(', ')), esc(p.tests.join(', ')),
  ]));
  const reads = r.reads.length
    ? r.reads.map((g) => `<details class="dir"><summary><span class="tag ${g.area}">${g.area}</span> <code>${esc(g.dir)}</code> <span class="none">${int(g.reads)} reads · ${int(g.looks)} looks · ${int(g.misses)} misses · ${g.files.length} names</span></summary>`
        + tableOf('files', ['name', 'reads', 'looks', 'misses', 'tests'], g.files.map((f) => [`<code>${esc(f.name)}</code>`, int(f.reads), int(f.looks), int(f.misses), esc(f.tests.join(', '))])) + '</details>').join('')
    : '<p class="none">None.</p>';
  const tests = tableOf('tests', ['test', 'result', 'time', 'reads', 'writes', 'network', 'denials', 'processes', 'wrote'], r.tests.map((t) => [
    esc(t.name), esc(t.result ?? ''), t.durationMs === null ? '' : elapsed(t.durationMs), int(t.reads), int(t.writes), int(t.network), int(t.denials), int(t.processes), t.written.map((p) => `<code>${esc(p)}</code>`).join(' '),
  ]));
  const sys = r.syscalls;
  const syscalls = sys.available
    ? barChart('chart-syscalls', `Busiest calls (${int(sys.calls)} in all, ${int(sys.errors)} failed)`, sys.top.slice(0, 15).map((c) => ({ label: c.name, value: c.calls, shown: int(c.calls), colour: c.disposition === 'emulate' ? '#b07aa1' : '#4e79a7', title: `${c.name}: ${int(c.calls)} calls, ${int(c.errors)} failed, ${c.disposition}` })))
    : `<p class="none">Not available: ${esc(sys.why)}.</p>`;
  const hidden = tableOf('hidden', ['path', 'why', 'on the host'], r.sandbox.hidden.map((h) => [`<code>${esc(h.path)}</code>`, h.default ? 'default' : '--hide', h.present ? 'exists' : 'absent']));
  const dropped = Object.entries(r.dropped).filter(([, n]) => n > 0);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>tsvisor test: ${esc(command)}</title><style>${CSS}${EXTRA_CSS}</style></head>
<body><header><h1>tsvisor test</h1><div><code>${esc(command)}</code> in <code>${esc(r.cwd)}</code>: the suite ${esc(outcome(r))}</div></header>
<main>
${failOn}
${dropped.length ? `<p class="warn">The run outgrew the report's bounds; not kept: ${esc(dropped.map(([k, n]) => `${n} ${k}`).join(', '))}.</p>` : ''}
<ul class="stats">${stats.map(([k, v]) => `<li><b>${esc(v)}</b><span>${esc(k)}</span></li>`).join('')}</ul>
<h2 id="denials">Denials</h2>
${denials}
<h2 id="network">Network</h2>
${network}
<h2 id="processes">Processes</h2>
${tree(r.processes)}
<h2 id="writes">Writes</h2>
${changes}
<h3>Every path written</h3>
${paths}
<h2 id="reads">Reads by directory</h2>
${reads}
<h2 id="tests">Tests</h2>
${tests}
<h2 id="syscalls">Syscalls</h2>
${syscalls}
<h2 id="sandbox">The sandbox</h2>
<p>Network <code>${esc(r.sandbox.network)}</code>; /tmp ${r.sandbox.tmp === 'tmpfs' ? 'a private tmpfs' : 'in the overlay (the working directory is under /tmp)'}; written through: ${r.sandbox.allowWrite.length ? r.sandbox.allowWrite.map((p) => `<code>${esc(p)}</code>`).join(', ') : 'nothing'}; ${r.sandbox.rootless ? 'rootless' : 'as root'}.</p>
<details><summary>${r.sandbox.hidden.length} hidden paths</summary>${hidden}</details>
</main>
<footer>${esc(r.tool.name)} ${esc(r.tool.version)} · report schema ${r.schema} · started ${esc(r.startedAt)} · pids are the sandbox's</footer>
</body></html>
`;
}
