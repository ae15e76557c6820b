// The short summary `tsvisor test` prints on stderr at the end, and the
// GitHub Actions annotations (workflow commands on stdout) it adds when
// GITHUB_ACTIONS=true.
import { FAIL_ON_STATUS } from './fail-on.js';
import type { TestRunReport } from './report.js';

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Bytes for people: 512 B, 3.1 KiB, 120 MiB, 2.0 GiB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** Milliseconds for people: 850 ms, 3.2 s, 4 min 5 s. */
export function elapsed(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** How the suite ended, in words. */
export function outcome(r: TestRunReport): string {
  if (r.suite.timedOut) return `stopped after --timeout ${elapsed(r.sandbox.limits.timeoutMs)}: the sandbox was killed (status 124, as timeout(1))`;
  if (r.suite.signal) return `killed by signal ${r.suite.signal} (status ${r.suite.status})`;
  return `exited with status ${r.suite.status}`;
}

export function formatSummary(r: TestRunReport): string {
  const s = r.summary;
  const lines = [`tsvisor test: the suite ${outcome(r)} in ${elapsed(r.durationMs)}${s.peakMemory === null ? '' : `, peak memory ${bytes(s.peakMemory)}`}`];
  const kept = r.sandbox.allowWrite.length ? ` (in memory, except under ${r.sandbox.allowWrite.join(', ')})` : ' (in memory; the host is unchanged)';
  lines.push(`  files: ${s.filesWritten} written, ${s.filesDeleted} deleted${kept}`);
  const secret = r.denials.find((d) => d.secret);
  lines.push(`  denials: ${s.denials}${s.secretsRead ? `, ${plural(s.secretsRead, 'secret read')} refused (${secret?.path ?? secret?.what})` : ''}`);
  const ext = r.network.find((n) => n.scope === 'external');
  lines.push(`  network: ${plural(s.networkAttempts, 'attempt')}${s.externalNetwork ? `, ${s.externalNetwork} outside the sandbox (${ext!.call} ${ext!.address}${ext!.port === null ? '' : `:${ext!.port}`}: ${ext!.outcome})` : ''}`);
  const leaked = r.processes.filter((p) => p.leaked);
  lines.push(`  processes: ${s.processes}${leaked.length ? `, ${leaked.length} still running when the suite ended, stopped: ${leaked.slice(0, 3).map((p) => (p.argv ?? [p.exe ?? '?']).join(' ')).join('; ')}` : ', none left running'}`);
  if (r.tests.length) lines.push(`  tests seen through the channel: ${r.tests.length}`);
  for (const t of r.failOn.triggered) lines.push(`  --fail-on ${t.kind}: ${plural(t.count, 'occurrence')}, e.g. ${t.example}`);
  if (r.failOn.triggered.length && r.status === FAIL_ON_STATUS) lines.push(`  status ${FAIL_ON_STATUS}: the suite passed, but --fail-on found the above`);
  return `${lines.join('\n')}\n`;
}

/** A workflow command's message: %, CR and LF escaped as GitHub's runner reads them. */
const data = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const prop = (s: string) => data(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

/** GitHub Actions annotations for what a reviewer should see: secret reads, external network, leaked processes, denials, --fail-on. */
export function formatAnnotations(r: TestRunReport): string {
  const out: string[] = [];
  const triggered = new Set(r.failOn.triggered.map((t) => t.kind));
  const level = (kind: string) => (triggered.has(kind) ? 'error' : 'warning');
  for (const d of r.denials) {
    const kind = d.secret ? 'secrets' : 'denials';
    const title = d.secret ? 'tsvisor test: secret read refused' : `tsvisor test: denied (${d.rule})`;
    out.push(`::${level(kind)} title=${prop(title)}::${data(`${d.what} by ${d.process ?? `pid ${d.pid}`}${d.test ? ` in ${d.test}` : ''}: ${d.why}${d.allowWith ? `; allow with ${d.allowWith}` : ''}`)}`);
  }
  for (const n of r.network.filter((x) => x.scope === 'external')) {
    out.push(`::${level('network')} title=${prop('tsvisor test: network attempt')}::${data(`${n.call} ${n.protocol} ${n.address}${n.port === null ? '' : `:${n.port}`} by ${n.process ?? `pid ${n.pid}`}${n.test ? ` in ${n.test}` : ''}: ${n.outcome}`)}`);
  }
  for (const p of r.processes.filter((x) => x.leaked)) {
    out.push(`::${level('leaked-processes')} title=${prop('tsvisor test: process left running')}::${data(`pid ${p.pid} ${(p.argv ?? [p.exe ?? '?']).join(' ')}${p.test ? ` (started in ${p.test})` : ''} was still running when the suite ended; tsvisor stopped it`)}`);
  }
  if (triggered.has('writes-outside-allowed')) {
    const t = r.failOn.triggered.find((x) => x.kind === 'writes-outside-allowed')!;
    out.push(`::error title=${prop('tsvisor test: writes outside the allowed paths')}::${data(`${t.count} change${t.count === 1 ? '' : 's'} kept in memory, e.g. ${t.example}`)}`);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
