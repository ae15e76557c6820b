// The coverage report as one self-contained HTML page (--html FILE): inline
// CSS and inline SVG charts (calls by family, errors by errno, time by
// call), the verdicts, and every table of the report. No script and no
// external resource: the page opens offline, from a mail or a CI artefact.
import { familyOf } from './families.js';
import type { Audit, Outcome, Report, SyscallRow, Verdict } from './schema.js';

export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
export const int = (n: number) => n.toLocaleString('en-US');

/** A duration for people: 1.2 ms, 35 µs, 2.41 s. */
export function duration(ns: number): string {
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(2)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(1)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${ns} ns`;
}

const FAMILY_COLOURS: Record<string, string> = {
  'file system': '#4e79a7', 'file i/o': '#76b7b2', memory: '#59a14f', process: '#f28e2b', signal: '#e15759',
  time: '#edc948', network: '#b07aa1', 'poll and events': '#ff9da7', ipc: '#9c755f', identity: '#bab0ac', other: '#8c8c8c',
};

export interface Bar {
  label: string;
  value: number;
  shown: string;
  colour: string;
  title?: string;
}

/** A horizontal bar chart, one bar a row, as inline SVG. */
export function barChart(id: string, caption: string, bars: Bar[]): string {
  if (bars.length === 0) return '';
  const row = 22;
  const labelW = 150;
  const barW = 300;
  const width = labelW + barW + 90;
  const height = bars.length * row + 8;
  const max = Math.max(...bars.map((b) => b.value), 1);
  const parts = bars.map((b, i) => {
    const y = 4 + i * row;
    const w = Math.max(1, Math.round((b.value / max) * barW));
    return `<g><title>${esc(b.title ?? `${b.label}: ${b.shown}`)}</title>`
      + `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end" class="lbl">${esc(b.label)}</text>`
      + `<rect x="${labelW}" y="${y + 3}" width="${w}" height="${row - 6}" rx="3" fill="${b.colour}"/>`
      + `<text x="${labelW + w + 6}" y="${y + 15}" class="val">${esc(b.shown)}</text></g>`;
  });
  return `<figure class="chart" id="${id}"><figcaption>${esc(caption)}</figcaption>`
    + `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(caption)}">${parts.join('')}</svg></figure>`;
}

function byFamily(rows: SyscallRow[], value: (r: SyscallRow) => number): [string, number][] {
  const m = new Map<string, number>();
  for (const r of rows) m.set(familyOf(r.name), (m.get(familyOf(r.name)) ?? 0) + value(r));
  return [...m].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
}

function charts(r: Report): string {
  const out: string[] = [];
  const families = byFamily(r.syscalls, (s) => s.calls);
  out.push(barChart('chart-families', 'Calls by family', families.map(([f, n]) => ({
    label: f, value: n, shown: `${int(n)} (${((100 * n) / Math.max(r.totals.calls, 1)).toFixed(1)}%)`, colour: FAMILY_COLOURS[f] ?? '#8c8c8c',
    title: `${f}: ${int(n)} calls: ${r.syscalls.filter((s) => familyOf(s.name) === f).slice(0, 8).map((s) => s.name).join(', ')}`,
  }))));
  const errnos = Object.entries(r.totals.errnos).sort((a, b) => b[1] - a[1]).slice(0, 12);
  out.push(errnos.length
    ? barChart('chart-errors', 'Errors by errno', errnos.map(([e, n]) => ({
      label: e, value: n, shown: int(n), colour: '#e15759',
      title: `${e}: ${int(n)} calls, from ${r.syscalls.filter((s) => s.errnos[e]).map((s) => `${s.name} (${s.errnos[e]})`).join(', ')}`,
    })))
    : '<figure class="chart" id="chart-errors"><figcaption>Errors by errno</figcaption><p class="none">No call failed.</p></figure>');
  const timed = r.syscalls.filter((s) => s.timeNs > 0).sort((a, b) => b.timeNs - a.timeNs).slice(0, 12);
  out.push(timed.length
    ? barChart('chart-time', 'Time by call (most first)', timed.map((s) => ({
      label: s.name, value: s.timeNs, shown: duration(s.timeNs), colour: FAMILY_COLOURS[familyOf(s.name)] ?? '#8c8c8c',
      title: `${s.name}: ${duration(s.timeNs)} in ${int(s.timed)} timed calls (${duration(Math.round(s.timeNs / Math.max(s.timed, 1)))} each)`,
    })))
    : '<figure class="chart" id="chart-time"><figcaption>Time by call</figcaption><p class="none">No call was timed.</p></figure>');
  const famTime = byFamily(r.syscalls, (s) => s.timeNs);
  if (famTime.length) {
    out.push(barChart('chart-family-time', 'Time by family', famTime.map(([f, ns]) => ({ label: f, value: ns, shown: duration(ns), colour: FAMILY_COLOURS[f] ?? '#8c8c8c' }))));
  }
  return `<section class="charts">${out.join('')}</section>`;
}

const ANSWER_WORDS = { yes: 'yes', partial: 'partly', no: 'no' } as const;

/** Items shown before the rest is folded into a <details>. */
const VERDICT_ITEMS = 8;

function verdict(title: string, v: Verdict): string {
  const item = (i: Verdict['items'][number]) => `<li><span class="tag ${esc(i.support)}">${esc(i.support)}</span> <code>${esc(i.syscall)}</code>${i.class ? ` <code>${esc(i.class)}</code>` : ''}: ${esc(i.observed)}${i.note ? `<div class="note" title="${esc(i.note)}">${esc(i.note)}${i.link ? ` <a href="${esc(i.link)}">gVisor's page</a>` : ''}</div>` : ''}</li>`;
  const shown = v.items.slice(0, VERDICT_ITEMS).map(item).join('');
  const rest = v.items.slice(VERDICT_ITEMS).map(item).join('');
  return `<div class="verdict ${v.answer}"><h3>${esc(title)} <span class="answer">${ANSWER_WORDS[v.answer]}</span></h3><p>${esc(v.summary)}</p>`
    + `${shown ? `<ul>${shown}</ul>` : ''}${rest ? `<details><summary>${v.items.length - VERDICT_ITEMS} more</summary><ul>${rest}</ul></details>` : ''}</div>`;
}

/** The --audit section: what the profile would have refused, blocked calls first. */
function auditSection(a: Audit): string {
  const head = `<h2>Audit against a seccomp profile</h2><p>Profile <code>${esc(a.profile)}</code>. Nothing was refused in this run; these are the calls the profile would have refused.</p>`;
  if (a.items.length === 0) return `${head}<p class="none">The profile allows every call the run made.</p>`;
  const rows = a.items.map((i) => `<tr><td><code>${esc(i.syscall)}</code>${i.class ? ` <code>${esc(i.class)}</code>` : ''}</td><td><span class="tag ${i.verdict === 'blocked' ? 'none' : 'partial'}">${i.verdict === 'blocked' ? 'refused' : 'depends on arguments'}</span></td>`
    + `<td>${esc(i.answer)}</td><td class="num">${int(i.calls)}</td><td>${errnoCell(i)}</td></tr>`);
  return `${head}<table class="audit"><thead><tr><th>call</th><th>verdict</th><th>would have got</th><th>calls</th><th>errnos in this run</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function errnoCell(o: Outcome): string {
  return Object.entries(o.errnos).sort((a, b) => b[1] - a[1]).map(([e, n]) => `${esc(e)}&nbsp;${int(n)}`).join(', ');
}

function timeCells(o: Outcome): string {
  return o.timed ? `<td class="num">${duration(o.timeNs)}</td><td class="num">${duration(Math.round(o.timeNs / o.timed))}</td>` : '<td class="num">-</td><td class="num">-</td>';
}

function syscallTable(rows: SyscallRow[], total: Outcome): string {
  const body = rows.map((s) => {
    const main = `<tr><td><code>${esc(s.name)}</code></td><td>${esc(familyOf(s.name))}</td><td class="num">${int(s.calls)}</td><td class="num">${s.errors ? int(s.errors) : ''}</td><td>${errnoCell(s)}</td>${timeCells(s)}`
      + `<td><span class="disp ${esc(s.disposition.replace(' ', '-'))}">${esc(s.disposition)}</span></td><td><span class="tag ${esc(s.tsvisor)}">${esc(s.tsvisor)}</span></td><td><span class="tag ${esc(s.gvisor)}">${esc(s.gvisor)}</span></td></tr>`;
    const classes = (s.classes ?? []).map((c) => `<tr class="class"><td colspan="2">↳ ${esc(c.kind)} <code>${esc(c.name)}</code></td><td class="num">${int(c.calls)}</td><td class="num">${c.errors ? int(c.errors) : ''}</td><td>${errnoCell(c)}</td>${timeCells(c)}`
      + `<td><span class="disp ${esc(c.disposition)}">${esc(c.disposition)}</span></td><td><span class="tag ${esc(c.tsvisor)}">${esc(c.tsvisor)}</span></td><td></td></tr>`);
    return main + classes.join('');
  });
  return `<table class="syscalls"><thead><tr><th>syscall</th><th>family</th><th>calls</th><th>errors</th><th>errnos</th><th>time</th><th>per call</th><th>disposition</th><th>tsvisor</th><th>gVisor</th></tr></thead>`
    + `<tbody>${body.join('')}</tbody><tfoot><tr><td>total</td><td></td><td class="num">${int(total.calls)}</td><td class="num">${int(total.errors)}</td><td></td>${timeCells(total)}<td colspan="3"></td></tr></tfoot></table>`;
}

/** The reports' style sheet (tsvisor test's HTML report adds to it). */
export const CSS = `
:root{--fg:#1d2330;--muted:#5b6475;--line:#e3e6ec;--bg:#f7f8fa;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
header{background:#1d2330;color:#fff;padding:20px 32px}
header h1{margin:0 0 6px;font-size:20px;font-weight:600}
header code{color:#ffd479;word-break:break-all}
main{padding:20px 32px;max-width:1280px}
.stats{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 20px;padding:0;list-style:none}
.stats li{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:120px}
.stats b{display:block;font-size:22px}
.stats span{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
h2{font-size:17px;margin:28px 0 10px}
.verdicts{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:16px;align-items:start}
.verdict{background:var(--card);border:1px solid var(--line);border-left:6px solid #59a14f;border-radius:8px;padding:12px 16px}
.verdict.partial{border-left-color:#edc948}.verdict.no{border-left-color:#e15759}
.verdict h3{margin:0 0 4px;font-size:15px}
.verdict .answer{float:right;font-size:13px;text-transform:uppercase}
.verdict ul{margin:8px 0 0;padding-left:18px}.verdict li{margin:4px 0}
.note{color:var(--muted);font-size:12px;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden}
.verdict summary{cursor:pointer;color:var(--muted);margin-top:6px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:16px}
.chart{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px;overflow-x:auto}
.chart figcaption{font-weight:600;margin-bottom:6px}
.chart .lbl{font-size:12px;fill:#1d2330}.chart .val{font-size:12px;fill:#5b6475}
.none{color:var(--muted)}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden}
th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#eef0f4;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
tbody tr:nth-child(even){background:#fafbfc}
tr.class td{font-size:12px;color:var(--muted);padding-left:24px}
tfoot td{font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.tag,.disp{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;background:#eef0f4}
.tag.full{background:#dff3dc;color:#22641c}.tag.partial{background:#fbf0c4;color:#6b5300}
.tag.none,.tag.unsupported,.tag.unimplemented{background:#fbdcdc;color:#8a1f1f}.tag.unknown{background:#eee}
.disp.passthrough{background:#e3edf8}.disp.emulate{background:#efe3f5}.disp.deny{background:#fbdcdc}
.warn{background:#fff3cd;border:1px solid #edc948;border-radius:8px;padding:10px 16px}
footer{color:var(--muted);font-size:12px;padding:8px 32px 32px}
`;

/** The report as a self-contained HTML document. */
export function renderHtml(r: Report): string {
  const command = r.command.join(' ');
  const stats: [string, string][] = [
    ['calls', int(r.totals.calls)], ['failed', int(r.totals.errors)], ['distinct calls', int(r.syscalls.length)],
    ['time in calls', r.totals.timed ? duration(r.totals.timeNs) : '-'], ['processes', int(r.processes.length)], ['executables', int(r.executables.length)], ['exit status', String(r.exitStatus)],
  ];
  const exes = r.executables.map((e) => `<tr><td><code>${esc(e.path)}</code></td><td class="num">${int(e.processes)}</td><td class="num">${int(e.calls)}</td><td class="num">${int(e.errors)}</td>${timeCells(e)}<td class="num">${int(e.syscalls.length)}</td></tr>`);
  const procs = r.processes.map((p) => `<tr><td class="num">${p.pid}</td><td class="num">${p.parentPid ?? '-'}</td><td>${p.executables.map((x) => `<code>${esc(x)}</code>`).join(' → ')}</td><td class="num">${int(p.calls)}</td><td class="num">${int(p.errors)}</td>${timeCells(p)}</tr>`);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Syscall coverage: ${esc(command)}</title><style>${CSS}</style></head>
<body><header><h1>Syscall coverage</h1><div><code>${esc(command)}</code></div></header>
<main>
${r.truncated ? '<p class="warn">The run outgrew the report\'s bounds: some calls are missing or not attributed.</p>' : ''}
<ul class="stats">${stats.map(([k, v]) => `<li><b>${esc(v)}</b><span>${esc(k)}</span></li>`).join('')}</ul>
<h2>Where the calls went</h2>
${charts(r)}
<h2>Would it run elsewhere?</h2>
<section class="verdicts">${verdict('Runs on gVisor?', r.verdicts.gvisor)}${verdict('Runs on tsvisor?', r.verdicts.tsvisor)}</section>
${r.audit ? auditSection(r.audit) : ''}
<h2>Every call</h2>
${syscallTable(r.syscalls, r.totals)}
<h2>By executable</h2>
<table class="executables"><thead><tr><th>executable</th><th>processes</th><th>calls</th><th>errors</th><th>time</th><th>per call</th><th>distinct calls</th></tr></thead><tbody>${exes.join('')}</tbody></table>
<h2>By process</h2>
<table class="processes"><thead><tr><th>pid</th><th>parent</th><th>executables</th><th>calls</th><th>errors</th><th>time</th><th>per call</th></tr></thead><tbody>${procs.join('')}</tbody></table>
</main>
<footer>${esc(r.tool.name)} ${esc(r.tool.version)} · gVisor table ${esc(r.tool.gvisorTable)} · report schema ${r.schema} · pids are the sandbox's · time: host kernel time for calls that reached it, the Sentry's for calls it answered</footer>
</body></html>
`;
}
